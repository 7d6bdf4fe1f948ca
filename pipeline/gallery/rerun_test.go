package gallery

import (
	"encoding/json"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// published is a gallery of three photos with every result in, as the
// assembler holds it after publishing version 1.
func published(t *testing.T, now time.Time) *State {
	t.Helper()
	s := New("g")
	s.ApplyManifest("m1", now, &Manifest{Headline: "h"}, "")
	for _, p := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		ref := contract.Ref{Gallery: "g", Photo: p, Bucket: "originals", Key: "g/" + p, ETag: p + "-1"}
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		s.ApplyExif(contract.PhotoExif{Ref: ref}, now)
		for _, role := range []string{"renditions", "watermark"} {
			s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: role, Derivatives: []contract.Derivative{{Key: "g/" + p + "/large." + role, ETag: role + "-1"}}}, now)
		}
	}
	if rd := s.Evaluate(); !rd.Ready {
		t.Fatalf("not ready: %v", rd.Waiting)
	}
	return s
}

func roundTrip(t *testing.T, s *State) *State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back := New(s.Gallery)
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	return back
}

// rerunEvents are one reprocess run of the watermark stage over the three
// photos: each photo's photo.uploaded (at stream sequence 100+i) and its
// watermark result, marked with the run; etag is the new derivatives' ETag.
func rerunEvents(run, etag string, now time.Time) []func(*State) {
	var evs []func(*State)
	for i, p := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		ref := contract.Ref{Gallery: "g", Photo: p, Bucket: "originals", Key: "g/" + p, ETag: p + "-1"}
		up := contract.PhotoUploaded{Ref: ref, UploadedAt: now.Add(-time.Hour), Reprocess: &contract.Reprocess{Run: run, Photos: 3}}
		seq := uint64(100 + i)
		evs = append(evs,
			func(s *State) { s.ApplyUploaded(up, now); s.ApplyRerun(up, []string{"watermark"}, seq) },
			func(s *State) {
				s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "watermark", Run: run,
					Derivatives: []contract.Derivative{{Key: "g/" + p + "/large.watermark", ETag: etag}}}, now)
			})
	}
	return evs
}

// TestRerunMakesOneVersion: whatever the order of a run's events, the
// gallery is not ready until every photo has its new result, so a run
// makes one new version; a run that changed nothing changes nothing.
func TestRerunMakesOneVersion(t *testing.T) {
	now := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	base := published(t, now)
	fp1 := base.Fingerprint(base.Evaluate())
	rng := rand.New(rand.NewSource(3))
	for trial := range 100 {
		for _, c := range []struct {
			etag    string
			changed bool
		}{{"watermark-2", true}, {"watermark-1", false}} {
			s := roundTrip(t, base)
			evs := rerunEvents("r1", c.etag, now)
			order := rng.Perm(len(evs))
			for n, i := range order {
				evs[i](s)
				s = roundTrip(t, s)
				if rd := s.Evaluate(); rd.Ready != (n == len(order)-1) {
					t.Fatalf("trial %d (order %v): after %d events ready=%v, waiting %v", trial, order, n+1, rd.Ready, rd.Waiting)
				}
			}
			if s.Rerun != nil || s.LastRerun != "r1" {
				t.Fatalf("trial %d: run not finished: %+v, last %q", trial, s.Rerun, s.LastRerun)
			}
			if fp := s.Fingerprint(s.Evaluate()); (fp != fp1) != c.changed {
				t.Fatalf("trial %d: derivatives %s: fingerprint changed %v, want %v", trial, c.etag, fp != fp1, c.changed)
			}
			// A late redelivery of the finished run starts nothing.
			evs[order[0]](s)
			if s.Rerun != nil || !s.Evaluate().Ready {
				t.Fatalf("trial %d: a late event of a finished run made it wait again: %+v", trial, s.Rerun)
			}
		}
	}
}

// TestRerunAnswers: a failure of the run's event answers it (and holds the
// gallery), a replaced photo needs no answer, a newer run replaces an
// unfinished one, and an older run's results do not restart anything.
func TestRerunAnswers(t *testing.T) {
	now := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	evs := rerunEvents("r2", "watermark-2", now)
	fail := func(s *State, seq uint64) {
		s.ApplyFailure(contract.Failure{Ref: contract.Ref{Gallery: "g", Photo: "c.jpg", ETag: "c.jpg-1"}, Stage: "watermark", Reason: "bad input: broken", EventSeq: seq}, now)
	}

	// c.jpg's watermark fails: before or after its event is folded in.
	for _, failFirst := range []bool{true, false} {
		s := published(t, now)
		evs[0](s)
		evs[1](s)
		evs[2](s)
		evs[3](s)
		if failFirst {
			fail(s, 102)
			evs[4](s)
		} else {
			evs[4](s)
			if w := s.Evaluate().Waiting; !slices.Contains(w, "reprocess r2: c.jpg: watermark") {
				t.Errorf("waiting %q, want c.jpg's watermark named", w)
			}
			fail(s, 7) // some other event's failure answers nothing
			if s.Rerun == nil {
				t.Fatal("a failure of another event finished the run")
			}
			fail(s, 102)
		}
		if s.Rerun != nil {
			t.Fatalf("failFirst=%v: run still waits: %v", failFirst, s.Evaluate().Waiting)
		}
		if rd := s.Evaluate(); rd.Ready || len(rd.Failed) != 1 || rd.Failed[0].Photo != "c.jpg" {
			t.Errorf("failFirst=%v: ready %v failed %+v, want c.jpg holding it", failFirst, rd.Ready, rd.Failed)
		}
	}

	// b.jpg is replaced during the run: its answer is not waited for.
	s := published(t, now)
	for _, i := range []int{0, 1, 2, 4, 5} {
		evs[i](s)
	}
	if s.Rerun == nil {
		t.Fatal("run finished without b.jpg's answer")
	}
	s.ApplyUploaded(contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g", Photo: "b.jpg", ETag: "b.jpg-2"}, UploadedAt: now.Add(time.Minute)}, now)
	if s.Rerun != nil {
		t.Fatalf("run waits for a replaced photo: %v", s.Evaluate().Waiting)
	}

	// A newer run replaces an unfinished one; the older run's results are
	// folded in as results but do not restart it.
	s = published(t, now)
	evs[0](s)
	newer := rerunEvents("r3", "watermark-3", now)
	newer[0](s)
	if s.Rerun == nil || s.Rerun.ID != "r3" {
		t.Fatalf("run %+v, want r3", s.Rerun)
	}
	evs[1](s)
	if s.Rerun.ID != "r3" || len(s.Rerun.Answered) != 0 {
		t.Fatalf("an older run's result counted: %+v", s.Rerun)
	}
	for _, ev := range newer[1:] {
		ev(s)
	}
	if s.Rerun != nil || s.LastRerun != "r3" || !s.Evaluate().Ready {
		t.Fatalf("after r3: %+v, last %q, waiting %v", s.Rerun, s.LastRerun, s.Evaluate().Waiting)
	}
}
