package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// When the process holding a message on its last allowed delivery dies or
// stalls, no handler ever fails it: JetStream stops delivering it (and
// drops it from the consumer's pending set) and says so only in a
// max-deliveries advisory. Run pulls the role's advisories alongside its
// jobs and turns each into the failure event; without this the photo
// would vanish with no failure event, and its gallery would wait for it
// forever.

// maxDeliveriesAdvisory is the part of JetStream's
// io.nats.jetstream.advisory.v1.max_deliver event that names the message.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// gaveUp publishes, for one advisory, the failure event the runtime
// publishes when a last attempt fails, with the original event fetched
// from its stream and described as a handler would have seen it.
func (j *job) gaveUp(ctx context.Context, am jetstream.Msg, stream jetstream.Stream) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(am.Data(), &adv); err != nil || adv.StreamSeq == 0 {
		j.log.Error("unreadable max-deliveries advisory; dropping it", "subject", am.Subject(), "err", err)
		_ = am.Term()
		return
	}
	// Like acks, this must finish even while ctx is being cancelled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	m := &Message{Attempt: adv.Deliveries, StreamSeq: adv.StreamSeq}
	raw, err := stream.GetMsg(actx, adv.StreamSeq)
	switch {
	case err == nil:
		m.Subject, m.Data, m.Header = raw.Subject, raw.Data, raw.Header
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// Gone from the stream already (its limits): fail what is known.
	default:
		j.log.Warn("reading the event JetStream gave up on failed; will retry", "seq", adv.StreamSeq, "err", err)
		_ = am.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return
	}
	j.describe(m)
	if !ForRole(m.Header, j.w.Role) {
		_ = am.Ack() // not this role's event: it was never going to fail here
		return
	}
	reason := fmt.Sprintf("gave up after %d deliveries: no process finished it within the ack wait (a process died, stalled or stopped holding it)", adv.Deliveries)
	out, err := failureEvent(j.w.Role, m, reason, false)
	if err != nil {
		m.Log.Error("cannot encode the failure event; dropping the advisory", "err", err)
		_ = am.Term()
		return
	}
	// The failure continues the event's trace.
	pctx := ExtractHeader(actx, m.Header)
	ack, err := j.rt.JS.PublishMsg(pctx, &nats.Msg{Subject: out.Subject, Data: out.Data, Header: InjectHeader(pctx, nil)}, jetstream.WithMsgID(out.MsgID))
	if err != nil {
		m.Log.Warn("publishing failure event failed; will retry", "err", err, "reason", reason)
		_ = am.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return
	}
	if ack.Duplicate {
		// A process got to fail it itself, or this advisory was handled
		// before and its ack lost.
		m.Log.Info("failure event published already", "subject", m.Subject)
	} else {
		failures.WithLabelValues(j.w.Role, "gave_up").Inc()
		m.Log.Warn("failed", "reason", reason, "permanent", false)
	}
	if err := am.DoubleAck(actx); err != nil {
		m.Log.Warn("ack of the advisory failed; it will be redelivered and deduplicated", "err", err)
	}
}
