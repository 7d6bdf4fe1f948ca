package pipeline

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// failedFilter is every failure event's subject.
const failedFilter = contract.SubjectFailed + ".>"

// LatestFailures reads the n latest failure events, newest first. Failures
// are a sparse part of a long stream, so it neither reads the stream nor
// walks it backwards message by message: it asks the server how many
// failures follow a sequence (an ephemeral consumer's NumPending, which
// the server counts from its subject index without delivering anything),
// steps back from the end until at least n follow, narrows that point down,
// and reads only from there.
func LatestFailures(ctx context.Context, js jetstream.JetStream, n int) ([]contract.Failure, error) {
	out := []contract.Failure{}
	if n <= 0 {
		return out, nil
	}
	stream, err := js.Stream(ctx, contract.EventsStream)
	if err != nil {
		return nil, err
	}
	st := stream.CachedInfo().State
	if st.Msgs == 0 {
		return out, nil
	}
	count := func(seq uint64) (uint64, error) {
		c, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
			FilterSubject: failedFilter, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, Replicas: 1, InactiveThreshold: 30 * time.Second,
		})
		if err != nil {
			return 0, err
		}
		info := c.CachedInfo()
		_ = stream.DeleteConsumer(context.WithoutCancel(ctx), info.Name)
		return info.NumPending, nil
	}
	// Invariant: at least n failures from lo on, fewer than n from hi on.
	want := uint64(n)
	lo, hi := st.FirstSeq, st.LastSeq+1
	atLo, err := count(lo)
	if err != nil {
		return nil, err
	}
	if atLo > want {
		for step := 64 * want; hi-lo > 1; step *= 8 {
			s := lo
			if hi-lo > step {
				s = hi - step
			}
			if s == lo {
				break
			}
			c, err := count(s)
			if err != nil {
				return nil, err
			}
			if c >= want {
				lo, atLo = s, c
				break
			}
			hi = s
		}
		for atLo > 2*want && hi-lo > 1 {
			mid := lo + (hi-lo)/2
			c, err := count(mid)
			if err != nil {
				return nil, err
			}
			if c >= want {
				lo, atLo = mid, c
			} else {
				hi = mid
			}
		}
	}
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{failedFilter}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: lo,
	})
	if err != nil {
		return nil, err
	}
	var read uint64
	for read < atLo {
		// Asking for no more than are known to be there returns at once.
		b, err := cons.Fetch(int(min(256, atLo-read)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range b.Messages() {
			got++
			var f contract.Failure
			if json.Unmarshal(m.Data(), &f) != nil {
				continue
			}
			out = append(out, f)
			if len(out) > n {
				out = out[1:]
			}
		}
		if b.Error() != nil && !IsPollEnd(b.Error()) {
			return nil, b.Error()
		}
		if got == 0 {
			break // the stream ended early (its oldest events aged out meanwhile)
		}
		read += uint64(got)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
