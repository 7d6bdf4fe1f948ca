package c2pa_test

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
)

// Hostile manifest stores, made by breaking a file we signed: each must
// read as invalid with a reason, quickly, and without memory out of
// proportion to the file.

// readBounded runs Read on file and fails the test if it takes more than
// two seconds or allocates more than a few times the file's size.
func readBounded(t *testing.T, name string, file []byte, format string) c2pa.Report {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan c2pa.Report, 1)
	start := time.Now()
	go func() { done <- c2pa.Read(file, format, nil) }()
	var r c2pa.Report
	select {
	case r = <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: Read took more than 2s", name)
	}
	runtime.ReadMemStats(&after)
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(file)+8<<20); alloc > limit {
		t.Errorf("%s: Read of %d bytes allocated %d, more than %d", name, len(file), alloc, limit)
	}
	t.Logf("%s: %d bytes read in %v: %s %v", name, len(file), time.Since(start).Round(time.Millisecond), r.State, r.Failure)
	return r
}

func TestReadHostileStores(t *testing.T) {
	s, _ := devSigner(t)
	signed, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	cases, err := c2patest.HostileJPEGs(signed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r := readBounded(t, c.Name, c.File, "jpeg")
		if r.State != c2pa.StateInvalid || len(r.Failure) == 0 {
			t.Errorf("%s: %s %v", c.Name, r.State, r.Failure)
			continue
		}
		why := ""
		for _, f := range r.Failure {
			if f.Explanation == "" {
				t.Errorf("%s: %s without an explanation", c.Name, f.Code)
			}
			why += f.Explanation + "; "
		}
		if !strings.Contains(why, c.Why) {
			t.Errorf("%s: the reasons %q do not say %q", c.Name, why, c.Why)
		}
	}
}

// A JUMBF store of another kind than C2PA's is no manifest.
func TestReadOtherJUMBF(t *testing.T) {
	s, _ := devSigner(t)
	signed, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	other := editRoot(t, signed, "jpeg", func(root *c2pa.Box) *c2pa.Box {
		root.UUID[0] = 'x'
		return root
	})
	if r := readBounded(t, "other JUMBF", other, "jpeg"); r.State != c2pa.StateNone {
		t.Errorf("other JUMBF: %s %v", r.State, r.Failure)
	}
}

// Two C2PA chunks in a WebP file: which is the store is not for a
// reader to guess.
func TestReadTwoWebPStores(t *testing.T) {
	s, _ := devSigner(t)
	w := work()
	w.Format = "image/webp"
	signed, err := s.Sign(t.Context(), testWebP(t), "webp", w)
	if err != nil {
		t.Fatal(err)
	}
	_, where, _ := c2pa.FindStore(signed, "webp")
	chunk := signed[where.Start : where.Start+where.Length+where.Length&1] // with its pad byte
	two := append(bytes.Clone(signed[:where.Start]), chunk...)
	two = append(two, signed[where.Start:]...)
	binary.LittleEndian.PutUint32(two[4:], uint32(len(two)-8))
	if r := readBounded(t, "two C2PA chunks", two, "webp"); r.State != c2pa.StateInvalid || !strings.Contains(r.Failure[0].Explanation, "2 C2PA chunks") {
		t.Errorf("two C2PA chunks: %s %v", r.State, r.Failure)
	}
}
