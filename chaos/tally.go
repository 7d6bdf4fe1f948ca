package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// tally is everything the run left on the streams.
type tally struct {
	uploaded  map[string]int            // "<gallery>/<photo>@<etag>" -> photo.uploaded events
	submitted map[string]int            // "<gallery>@<etag>" -> gallery.submitted events
	results   map[string]map[string]int // photo stage -> "<gallery>/<photo>@<etag>" -> events
	failures  []contract.Failure
	held      map[string][]contract.GalleryHeld
	articles  map[string]map[int]int // gallery -> version -> article.ready/updated events
	s3        map[string]int         // originals key -> S3 events
}

// readStream hands every message of stream, from the first to the last
// there now, to take.
func readStream(ctx context.Context, js jetstream.JetStream, stream string, take func(jetstream.Msg)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	// Bounded resets: by default an ordered consumer whose server died
	// recreates itself forever, ignoring ctx (found on the cluster, after
	// a NATS node was SIGKILLed): a read then hangs instead of failing.
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{MaxResetAttempts: 5})
	if err != nil {
		return err
	}
	for {
		b, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range b.Messages() {
			n++
			take(m)
			md, err := m.Metadata()
			if err == nil && md.Sequence.Stream >= last {
				return nil
			}
		}
		if err := b.Error(); err != nil && !pipeline.IsPollEnd(err) {
			return err
		}
		if n == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func collect(ctx context.Context, js jetstream.JetStream) (*tally, error) {
	t := &tally{
		uploaded: map[string]int{}, submitted: map[string]int{},
		results: map[string]map[string]int{},
		held:    map[string][]contract.GalleryHeld{}, articles: map[string]map[int]int{},
	}
	for _, st := range contract.PhotoStages() {
		t.results[st.Name] = map[string]int{}
	}
	var bad []string
	err := readStream(ctx, js, contract.EventsStream, func(m jetstream.Msg) {
		subj := m.Subject()
		decode := func(v any) bool {
			if err := json.Unmarshal(m.Data(), v); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", subj, err))
				return false
			}
			return true
		}
		switch {
		case strings.HasPrefix(subj, contract.SubjectPhotoUploaded+"."):
			var ev contract.PhotoUploaded
			if decode(&ev) {
				t.uploaded[photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectGallerySubmitted+"."):
			var ev contract.GallerySubmitted
			if decode(&ev) {
				t.submitted[ev.Gallery+"@"+strings.Trim(ev.ETag, `"`)]++
			}
		case strings.HasPrefix(subj, contract.SubjectPhotoExif+"."):
			var ev contract.PhotoExif
			if decode(&ev) {
				t.results[contract.StageExif][photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectPhotoRenditions+"."), strings.HasPrefix(subj, contract.SubjectPhotoWatermarked+"."):
			var ev contract.PhotoDerivatives
			if decode(&ev) {
				t.results[resultStage(subj)][photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectFailed+"."):
			var f contract.Failure
			if decode(&f) {
				t.failures = append(t.failures, f)
			}
		case strings.HasPrefix(subj, contract.SubjectGalleryHeld+"."):
			var h contract.GalleryHeld
			if decode(&h) {
				t.held[h.Gallery] = append(t.held[h.Gallery], h)
			}
		case strings.HasPrefix(subj, contract.SubjectArticleReady+"."), strings.HasPrefix(subj, contract.SubjectArticleUpdated+"."):
			var a contract.ArticleEvent
			if decode(&a) {
				if t.articles[a.Gallery] == nil {
					t.articles[a.Gallery] = map[int]int{}
				}
				t.articles[a.Gallery][a.Version]++
				if (a.Version == 1) != strings.HasPrefix(subj, contract.SubjectArticleReady+".") {
					bad = append(bad, fmt.Sprintf("%s announces version %d", subj, a.Version))
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", contract.EventsStream, err)
	}
	if t.s3, err = s3Keys(ctx, js); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return t, fmt.Errorf("events that do not decode or do not agree with their subject: %s", strings.Join(bad, "; "))
	}
	return t, nil
}

// s3Keys counts MinIO's events on the S3_EVENTS stream by object key.
func s3Keys(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	keys := map[string]int{}
	err := readStream(ctx, js, contract.S3EventsStream, func(m jetstream.Msg) {
		var ev struct {
			Records []struct {
				S3 struct {
					Object struct {
						Key string `json:"key"`
					} `json:"object"`
				} `json:"s3"`
			}
		}
		if json.Unmarshal(m.Data(), &ev) != nil {
			return
		}
		for _, r := range ev.Records {
			if k, err := url.QueryUnescape(r.S3.Object.Key); err == nil {
				keys[k]++
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", contract.S3EventsStream, err)
	}
	return keys, nil
}

// resultStage is the photo stage whose result subj is.
func resultStage(subj string) string {
	for _, st := range contract.PhotoStages() {
		if strings.HasPrefix(subj, st.Result+".") {
			return st.Name
		}
	}
	return ""
}

func photoKey(r contract.Ref) string {
	return r.Gallery + "/" + r.Photo + "@" + strings.Trim(r.ETag, `"`)
}

// consumerState is one durable consumer at the end of the run.
type consumerState struct {
	Stream, Name                       string
	Pending, AckPending, Redelivering  uint64
	Deliveries, Messages, Redeliveries uint64
	Filters                            []string
}

// consumers reads every durable consumer of every stream. Redeliveries
// are deliveries beyond one per matching message (all are delivered once
// nothing is pending): every redelivery after a kill, an ack wait or a
// retry, over the whole run, which NumRedelivered (only those unacked
// now) does not say.
func consumers(ctx context.Context, js jetstream.JetStream) ([]consumerState, error) {
	var out []consumerState
	names := js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if err := names.Err(); err != nil {
		return nil, err
	}
	sort.Strings(streams)
	for _, sn := range streams {
		s, err := js.Stream(ctx, sn)
		if err != nil {
			return nil, err
		}
		list := s.ListConsumers(ctx)
		for info := range list.Info() {
			if info.Config.Durable == "" {
				continue
			}
			filters := info.Config.FilterSubjects
			if info.Config.FilterSubject != "" {
				filters = append(filters, info.Config.FilterSubject)
			}
			if len(filters) == 0 {
				filters = []string{">"}
			}
			var msgs uint64
			for _, f := range filters {
				si, err := s.Info(ctx, jetstream.WithSubjectFilter(f))
				if err != nil {
					return nil, err
				}
				for _, n := range si.State.Subjects {
					msgs += n
				}
			}
			cs := consumerState{
				Stream: sn, Name: info.Name, Pending: info.NumPending, AckPending: uint64(info.NumAckPending),
				Redelivering: uint64(info.NumRedelivered), Deliveries: info.Delivered.Consumer, Messages: msgs, Filters: filters,
			}
			if cs.Deliveries > msgs {
				cs.Redeliveries = cs.Deliveries - msgs
			}
			out = append(out, cs)
		}
		if err := list.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
