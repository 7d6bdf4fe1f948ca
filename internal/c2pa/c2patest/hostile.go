package c2patest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/photodesk/photodesk/internal/c2pa"
)

// Hostile is one file whose manifest store is broken on purpose: a reader
// must call it invalid with a reason containing Why, quickly and in
// memory proportional to the file.
type Hostile struct {
	Name, Why string
	File      []byte
}

// HostileJPEGs breaks signed (a JPEG signed by c2pa.Signer, claim v2) in
// every way the hostile corpus holds: truncated JUMBF, a box length past
// the end, CBOR nesting bombs, a 20 MiB claim, an x5chain of 10,000
// certificates, APP11 segments out of order, an empty store and a data
// hash exclusion past the end of the file.
func HostileJPEGs(signed []byte) ([]Hostile, error) {
	store, _, err := c2pa.FindStore(signed, "jpeg")
	if err != nil {
		return nil, err
	}
	var errs []error
	embed := func(store []byte) []byte {
		out, err := c2pa.Embed(signed, "jpeg", store)
		errs = append(errs, err)
		return out
	}
	// edit re-embeds the store with fn's change (fn returns the box it
	// changed) to the active manifest.
	edit := func(fn func(m *c2pa.Box) *c2pa.Box) []byte {
		root, err := c2pa.ParseJUMBF(store)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		changed := fn(root.Children[len(root.Children)-1])
		return embed(c2pa.Edited(root, changed).Append(nil))
	}
	content := func(m *c2pa.Box, path ...string) *c2pa.Box {
		for _, p := range path {
			m = m.Child(p)
		}
		return m.Children[len(m.Children)-1]
	}
	claim := func(data []byte) []byte {
		return edit(func(m *c2pa.Box) *c2pa.Box {
			cb := content(m, "c2pa.claim.v2")
			cb.Data = data
			return cb
		})
	}
	root, err := c2pa.ParseJUMBF(store)
	if err != nil {
		return nil, err
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(content(root.Children[len(root.Children)-1], "c2pa.signature").Data); err != nil {
		return nil, err
	}
	var leaf []byte
	switch x := msg.Headers.Protected[cose.HeaderLabelX5Chain].(type) {
	case []byte:
		leaf = x
	case []any:
		leaf, _ = x[0].([]byte)
	}
	chain, err := longChain(leaf, 10_000)
	if err != nil {
		return nil, err
	}

	// A store big enough for two APP11 segments, then their sequence
	// numbers swapped.
	big := edit(func(m *c2pa.Box) *c2pa.Box {
		as := m.Child("c2pa.assertions")
		as.Children = append(as.Children, &c2pa.Box{Type: "jumb", Label: "padding", Children: []*c2pa.Box{{Type: "cbor", Data: make([]byte, 100_000)}}})
		return as
	})
	swapped := bytes.Clone(big)
	if segs := app11Segments(swapped); len(segs) >= 2 {
		binary.BigEndian.PutUint32(swapped[segs[0]+8:], 2)
		binary.BigEndian.PutUint32(swapped[segs[1]+8:], 1)
	}
	longBox := bytes.Clone(store)
	binary.BigEndian.PutUint32(longBox[8:], 0x7FFFFFFF) // the store's description box

	out := []Hostile{
		{"truncated JUMBF", "bytes, ", embed(store[:len(store)/2])},
		{"a box's length past the end", "says 2147483647 bytes", embed(longBox)},
		{"CBOR nesting bomb in the claim", "claim", claim(nested(100_000))},
		{"20 MiB claim", "more than the 16777216 read", claim(make([]byte, 20<<20))},
		{"x5chain of 10,000 certificates", "chain too long", edit(func(m *c2pa.Box) *c2pa.Box {
			sb := content(m, "c2pa.signature")
			sb.Data = chain
			return sb
		})},
		{"CBOR nesting bomb in the signature", "signature", edit(func(m *c2pa.Box) *c2pa.Box {
			sb := content(m, "c2pa.signature")
			sb.Data = append([]byte{0xD2}, nested(100_000)...)
			return sb
		})},
		{"APP11 segments out of order", "out of order", swapped},
		{"no manifest in the store", "no manifest", func() []byte {
			r, _ := c2pa.ParseJUMBF(store)
			r.Children = nil
			return embed(c2pa.Edited(r, r).Append(nil))
		}()},
		{"data hash exclusion past the end", "runs past the file", edit(func(m *c2pa.Box) *c2pa.Box {
			dh := content(m, "c2pa.assertions", "c2pa.hash.data")
			var v map[string]any
			errs = append(errs, cbor.Unmarshal(dh.Data, &v))
			v["exclusions"] = []map[string]uint64{{"start": 1 << 62, "length": 1 << 62}}
			dh.Data, err = cbor.Marshal(v)
			errs = append(errs, err)
			return dh
		})},
	}
	for _, e := range errs {
		if e != nil {
			return nil, fmt.Errorf("making the hostile files: %w", e)
		}
	}
	return out, nil
}

// nested is n CBOR arrays, each holding the next.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x81}, n), 0x00)
}

// longChain is a COSE_Sign1 whose x5chain is n copies of cert.
func longChain(cert []byte, n int) ([]byte, error) {
	chain := make([][]byte, n)
	for i := range chain {
		chain[i] = cert
	}
	protected, err := cbor.Marshal(map[int64]any{1: int64(cose.AlgorithmES256), 33: chain})
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(cbor.Tag{Number: 18, Content: []any{protected, map[any]any{}, nil, make([]byte, 64)}})
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
