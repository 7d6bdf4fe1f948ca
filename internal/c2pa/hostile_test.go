package c2pa_test

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/photodesk/photodesk/internal/c2pa"
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

// nested is n CBOR arrays, each holding the next.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x81}, n), 0x00)
}

// longChain is a COSE_Sign1 whose x5chain is n copies of cert.
func longChain(t *testing.T, cert []byte, n int) []byte {
	t.Helper()
	chain := make([][]byte, n)
	for i := range chain {
		chain[i] = cert
	}
	protected, err := cbor.Marshal(map[int64]any{1: int64(cose.AlgorithmES256), 33: chain})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := cbor.Marshal(cbor.Tag{Number: 18, Content: []any{protected, map[any]any{}, nil, make([]byte, 64)}})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// app11Segments returns the offsets of file's APP11 (JPEG XT) segments.
func app11Segments(file []byte) []int {
	var offs []int
	for off := 2; off+4 <= len(file) && file[off] == 0xFF && file[off+1] != 0xDA; {
		if file[off+1] == 0xEB {
			offs = append(offs, off)
		}
		off += 2 + int(binary.BigEndian.Uint16(file[off+2:]))
	}
	return offs
}

func TestReadHostileStores(t *testing.T) {
	s, _ := devSigner(t)
	signed, err := s.Sign(testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	store, _, err := c2pa.FindStore(signed, "jpeg")
	if err != nil {
		t.Fatal(err)
	}
	embed := func(store []byte) []byte {
		out, err := c2pa.Embed(signed, "jpeg", store)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	claim := func(data []byte) []byte {
		return editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
			cb := content(m, "c2pa.claim.v2")
			cb.Data = data
			return cb
		})
	}
	leaf := func() []byte {
		root, _ := c2pa.ParseJUMBF(store)
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(content(root.Children[0], "c2pa.signature").Data); err != nil {
			t.Fatal(err)
		}
		return msg.Headers.Protected[cose.HeaderLabelX5Chain].([]any)[0].([]byte)
	}()

	// A store big enough for two APP11 segments, then their sequence
	// numbers swapped.
	big := editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
		as := m.Child("c2pa.assertions")
		as.Children = append(as.Children, &c2pa.Box{Type: "jumb", Label: "padding", Children: []*c2pa.Box{{Type: "cbor", Data: make([]byte, 100_000)}}})
		return as
	})
	swapped := bytes.Clone(big)
	segs := app11Segments(swapped)
	if len(segs) < 2 {
		t.Fatalf("%d APP11 segments", len(segs))
	}
	binary.BigEndian.PutUint32(swapped[segs[0]+8:], 2)
	binary.BigEndian.PutUint32(swapped[segs[1]+8:], 1)

	longBox := bytes.Clone(store)
	binary.BigEndian.PutUint32(longBox[8:], 0x7FFFFFFF) // the store's description box

	for _, c := range []struct {
		name, why string
		file      []byte
	}{
		{"truncated JUMBF", "bytes, ", embed(store[:len(store)/2])},
		{"a box's length past the end", "says 2147483647 bytes", embed(longBox)},
		{"CBOR nesting bomb in the claim", "claim", claim(nested(100_000))},
		{"20 MiB claim", "more than the 16777216 read", claim(make([]byte, 20<<20))},
		{"x5chain of 10,000 certificates", "chain too long", editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
			sb := content(m, "c2pa.signature")
			sb.Data = longChain(t, leaf, 10_000)
			return sb
		})},
		{"CBOR nesting bomb in the signature", "signature", editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
			sb := content(m, "c2pa.signature")
			sb.Data = append([]byte{0xD2}, nested(100_000)...)
			return sb
		})},
		{"APP11 segments out of order", "out of order", swapped},
		{"no manifest in the store", "no manifest", editRoot(t, signed, "jpeg", func(root *c2pa.Box) *c2pa.Box {
			root.Children = nil
			return root
		})},
		{"data hash exclusion past the end", "runs past the file", editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
			dh := content(m, "c2pa.assertions", "c2pa.hash.data")
			var v map[string]any
			if err := cbor.Unmarshal(dh.Data, &v); err != nil {
				t.Fatal(err)
			}
			v["exclusions"] = []map[string]uint64{{"start": 1 << 62, "length": 1 << 62}}
			dh.Data, _ = cbor.Marshal(v)
			return dh
		})},
	} {
		r := readBounded(t, c.name, c.file, "jpeg")
		if r.State != c2pa.StateInvalid || len(r.Failure) == 0 {
			t.Errorf("%s: %s %v", c.name, r.State, r.Failure)
			continue
		}
		why := ""
		for _, f := range r.Failure {
			if f.Explanation == "" {
				t.Errorf("%s: %s without an explanation", c.name, f.Code)
			}
			why += f.Explanation + "; "
		}
		if !strings.Contains(why, c.why) {
			t.Errorf("%s: the reasons %q do not say %q", c.name, why, c.why)
		}
	}
}

// A JUMBF store of another kind than C2PA's is no manifest.
func TestReadOtherJUMBF(t *testing.T) {
	s, _ := devSigner(t)
	signed, err := s.Sign(testJPEG(t), "jpeg", work())
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
	signed, err := s.Sign(testWebP(t), "webp", w)
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
