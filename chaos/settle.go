package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// outcomes counts the galleries that have their outcome on the stream:
// an article event, or a held event for those meant to be held.
func (r *run) outcomes(ctx context.Context) int {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := r.js.Stream(cctx, contract.EventsStream)
	if err != nil {
		return 0
	}
	count := func(prefix string) map[string]uint64 {
		info, err := s.Info(cctx, jetstream.WithSubjectFilter(prefix+".>"))
		if err != nil {
			return nil
		}
		return info.State.Subjects
	}
	ready, held := count(contract.SubjectArticleReady), count(contract.SubjectGalleryHeld)
	n := 0
	for _, g := range r.galleries {
		subj, m := contract.GallerySubject(contract.SubjectArticleReady, g.ID), ready
		if g.Held {
			subj, m = contract.GallerySubject(contract.SubjectGalleryHeld, g.ID), held
		}
		if m[subj] > 0 {
			n++
		}
	}
	return n
}

// settle waits until every gallery has its outcome, every durable consumer
// is idle and MinIO's queue dir is empty, three checks in a row a second
// apart, or Settle passes.
func (r *run) settle(ctx context.Context) bool {
	calm := 0
	for deadline := time.Now().Add(r.o.Settle); time.Now().Before(deadline); sleepCtx(ctx, time.Second) {
		if ctx.Err() != nil {
			return false
		}
		ok := r.outcomes(ctx) == len(r.galleries) && r.queued() == 0
		if ok {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			cs, err := consumers(cctx, r.js)
			cancel()
			ok = err == nil
			for _, c := range cs {
				if c.Pending != 0 || c.AckPending != 0 {
					ok = false
				}
			}
		}
		if !ok {
			calm = 0
			continue
		}
		if calm++; calm == 3 {
			return true
		}
	}
	return false
}

// waiting says, for a run that did not settle, what each unfinished
// gallery waits for (the assembler's own view) and which consumers are busy.
func (r *run) waiting(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out []string
	if kv, err := r.js.KeyValue(cctx, pipeline.GalleriesKV); err == nil {
		for _, g := range r.galleries {
			e, err := kv.Get(cctx, g.ID)
			if err != nil {
				out = append(out, g.ID+": no state ("+err.Error()+")")
				continue
			}
			if st, err := decodeState(e.Value()); err == nil {
				rd := st.Evaluate()
				if st.Published == nil && !(g.Held && len(rd.Failed) > 0) {
					out = append(out, fmt.Sprintf("%s waits for %v (failed %v)", g.ID, rd.Waiting, rd.Failed))
				}
			}
		}
	}
	if cs, err := consumers(cctx, r.js); err == nil {
		for _, c := range cs {
			if c.Pending != 0 || c.AckPending != 0 {
				out = append(out, fmt.Sprintf("consumer %s: %d pending, %d unacked", c.Name, c.Pending, c.AckPending))
			}
		}
	}
	if n := r.queued(); n > 0 {
		out = append(out, fmt.Sprintf("MinIO queue dir: %d events", n))
	}
	return strings.Join(out, "; ")
}

// decodeState reads the assembler's state of a gallery from its KV entry.
func decodeState(b []byte) (*gallery.State, error) {
	var st gallery.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// queued counts the events waiting in MinIO's queue dirs: the one
// server's, or every node's of a cluster.
func (r *run) queued() int {
	if r.cluster != nil {
		n := 0
		for _, m := range r.cluster.MinIO {
			n += countFiles(m.QueueDir())
		}
		return n
	}
	return r.minio.queued()
}
