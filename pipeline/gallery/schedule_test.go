package gallery

import (
	"strings"
	"testing"
	"time"
)

// TestWhen: no time publishes now; a future one waits, until it passes
// or its schedule fires (even a little early by this clock); another
// fired time does not count; a withdrawn gallery never published is
// withheld, a published one is not (it gets a version saying so).
func TestWhen(t *testing.T) {
	now := time.Date(2026, 7, 31, 8, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Second), now.Add(-time.Hour)
	other := later.Add(time.Hour)
	for _, c := range []struct {
		name      string
		m         *Manifest
		published bool
		fired     *time.Time
		want      Timing
	}{
		{"no manifest", nil, false, nil, PublishNow},
		{"no time", &Manifest{}, false, nil, PublishNow},
		{"future", &Manifest{PublishAt: &later}, false, nil, PublishLater},
		{"past", &Manifest{PublishAt: &earlier}, false, nil, PublishNow},
		{"fired for it", &Manifest{PublishAt: &later}, false, &later, PublishNow},
		{"fired for another time", &Manifest{PublishAt: &later}, false, &other, PublishLater},
		{"withdrawn", &Manifest{PubStatus: PubCanceled, PublishAt: &earlier}, false, nil, Withhold},
		{"withheld after publication", &Manifest{PubStatus: PubWithheld}, true, nil, PublishNow},
		{"usable", &Manifest{PubStatus: PubUsable}, false, nil, PublishNow},
	} {
		s := New("g")
		s.Manifest = c.m
		if c.published {
			s.Published = &Publication{Version: 1}
		}
		if got, _ := s.When(now, c.fired); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNotesSayAPastTimePublishesAtOnce.
func TestNotesSayAPastTimePublishesAtOnce(t *testing.T) {
	now := time.Date(2026, 7, 31, 8, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	if n := (&Manifest{PublishAt: &past}).Notes(now); len(n) != 1 || !strings.Contains(n[0], "has passed: the article is published as soon as the gallery is complete") {
		t.Errorf("past: %v", n)
	}
	if n := (&Manifest{PublishAt: &future}).Notes(now); n != nil {
		t.Errorf("future: %v", n)
	}
}
