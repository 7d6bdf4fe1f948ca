package c2pa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Where a manifest store sits in a file: JPEG carries it in APP11
// segments (JPEG XT boxes, ISO/IEC 19566-5), WebP in a "C2PA" RIFF chunk.
// The hard binding excludes exactly those bytes from the file's hash.

// ErrNoManifest is a file that carries no C2PA manifest store.
var ErrNoManifest = errors.New("no C2PA manifest")

// span is a byte range of a file: [Start, Start+Length).
type span struct{ Start, Length int }

// jumbfPerSegment is the box payload one APP11 segment carries: 65535
// minus the length field, CI, En, Z and the repeated box header.
const jumbfPerSegment = 65535 - 2 - 8 - 8

// appInstance is the En (box instance number) our APP11 segments use.
const appInstance = 0x0211

// FindStore returns the manifest store a file carries and where it is.
func FindStore(file []byte, format string) ([]byte, span, error) {
	switch format {
	case "jpeg":
		return jpegStore(file)
	case "webp":
		return webpStore(file)
	}
	return nil, span{}, fmt.Errorf("C2PA in %q files is not read", format)
}

// jpegSegments calls fn for each marker segment before the scan, with
// its offset, marker code and payload (after the length).
func jpegSegments(file []byte, fn func(off int, code byte, payload []byte) bool) error {
	if len(file) < 4 || file[0] != 0xFF || file[1] != 0xD8 {
		return fmt.Errorf("not a JPEG file")
	}
	for off := 2; ; {
		if off+4 > len(file) || file[off] != 0xFF {
			return fmt.Errorf("JPEG segment at %d is cut short or malformed", off)
		}
		code := file[off+1]
		if code == 0xFF { // fill byte
			off++
			continue
		}
		if code == 0xDA || code == 0xD9 { // scan or end: no more headers
			return nil
		}
		n := int(binary.BigEndian.Uint16(file[off+2:]))
		if n < 2 || off+2+n > len(file) {
			return fmt.Errorf("JPEG segment at %d says %d bytes, the file ends first", off, n)
		}
		if !fn(off, code, file[off+4:off+2+n]) {
			return nil
		}
		off += 2 + n
	}
}

// isStoreStart says whether an APP11 payload starts a C2PA store: CI "JP",
// then En, Z, the superbox header and its description's type "c2pa".
func isStoreStart(p []byte) bool {
	return len(p) >= 28 && p[0] == 'J' && p[1] == 'P' && string(p[12:16]) == "jumb" &&
		string(p[20:24]) == "jumd" && bytes.Equal(p[24:28], uuidStore[:4])
}

func jpegStore(file []byte) ([]byte, span, error) {
	var (
		parts     [][]byte // the store's pieces, in the file: copied once at the end
		size      int
		where     span
		en        []byte
		next      uint32
		err       error
		ended     bool
		lastEnd   int
		foundMore bool
	)
	walkErr := jpegSegments(file, func(off int, code byte, p []byte) bool {
		segEnd := off + 4 + len(p)
		if code != 0xEB || len(p) < 16 || p[0] != 'J' || p[1] != 'P' {
			if parts != nil {
				ended = true
			}
			return true
		}
		switch {
		case parts == nil && isStoreStart(p):
			en, next = p[2:4], 2
			parts, size = [][]byte{p[8:]}, len(p)-8
			where, lastEnd = span{Start: off}, segEnd
		case parts != nil && bytes.Equal(p[2:4], en):
			if ended {
				err = fmt.Errorf("the C2PA store's APP11 segments are not contiguous")
				return false
			}
			if binary.BigEndian.Uint32(p[4:8]) != next {
				err = fmt.Errorf("the C2PA store's APP11 segments are out of order")
				return false
			}
			next++
			parts, size = append(parts, p[16:]), size+len(p)-16
			lastEnd = segEnd
		case isStoreStart(p):
			foundMore = true
		}
		return true
	})
	if walkErr != nil {
		return nil, span{}, walkErr
	}
	if err != nil {
		return nil, span{}, err
	}
	if parts == nil {
		return nil, span{}, ErrNoManifest
	}
	if foundMore {
		return nil, span{}, fmt.Errorf("the file holds more than one C2PA store")
	}
	where.Length = lastEnd - where.Start
	store := make([]byte, 0, size)
	for _, p := range parts {
		store = append(store, p...)
	}
	return store, where, nil
}

// jpegWith returns file with store in APP11 segments (any store it held
// removed) and where they are: after the JFIF APP0 if there is one,
// else right after SOI.
func jpegWith(file, store []byte) ([]byte, span, error) {
	type cut struct{ start, end int }
	var cuts []cut
	at := 2
	err := jpegSegments(file, func(off int, code byte, p []byte) bool {
		end := off + 4 + len(p)
		if code == 0xEB && len(p) >= 16 && p[0] == 'J' && p[1] == 'P' {
			// Any JPEG XT box of a C2PA store, ours or an earlier one.
			if isStoreStart(p) || len(cuts) > 0 && cuts[len(cuts)-1].end == off {
				cuts = append(cuts, cut{off, end})
				return true
			}
		}
		if code == 0xE0 && off == at {
			at = end
		}
		return true
	})
	if err != nil {
		return nil, span{}, err
	}
	if len(store) < 8 {
		return nil, span{}, fmt.Errorf("a manifest store of %d bytes", len(store))
	}
	var segs []byte
	header, body := store[:8], store[8:]
	for z := uint32(1); len(body) > 0 || z == 1; z++ {
		n := min(len(body), jumbfPerSegment)
		segs = append(segs, 0xFF, 0xEB)
		segs = binary.BigEndian.AppendUint16(segs, uint16(2+8+8+n))
		segs = append(segs, 'J', 'P', appInstance>>8, appInstance&0xFF)
		segs = binary.BigEndian.AppendUint32(segs, z)
		segs = append(segs, header...)
		segs = append(segs, body[:n]...)
		body = body[n:]
	}
	out := make([]byte, 0, len(file)+len(segs))
	prev := 0
	for _, c := range cuts {
		if c.start < at { // a store before the insertion point
			out = append(out, file[prev:c.start]...)
			prev = c.end
		}
	}
	out = append(out, file[prev:at]...)
	ins := len(out)
	out = append(out, segs...)
	prev = at
	for _, c := range cuts {
		if c.start >= at {
			out = append(out, file[prev:c.start]...)
			prev = c.end
		}
	}
	out = append(out, file[prev:]...)
	return out, span{Start: ins, Length: len(segs)}, nil
}

// webpChunks calls fn for each top-level chunk of a WebP file with its
// offset, FourCC and payload.
func webpChunks(file []byte, fn func(off int, id string, payload []byte)) error {
	if len(file) < 12 || string(file[:4]) != "RIFF" || string(file[8:12]) != "WEBP" {
		return fmt.Errorf("not a WebP file")
	}
	end := 8 + int(binary.LittleEndian.Uint32(file[4:]))
	if end > len(file) || end < 12 {
		return fmt.Errorf("the RIFF size says %d bytes, the file has %d", end, len(file))
	}
	for off := 12; off < end; {
		if off+8 > end {
			return fmt.Errorf("a WebP chunk header at %d is cut short", off)
		}
		n := int(binary.LittleEndian.Uint32(file[off+4:]))
		if n < 0 || n > end-off-8 {
			return fmt.Errorf("the WebP chunk at %d says %d bytes, the file ends first", off, n)
		}
		fn(off, string(file[off:off+4]), file[off+8:off+8+n])
		off += 8 + n + n&1
	}
	return nil
}

func webpStore(file []byte) ([]byte, span, error) {
	var (
		store []byte
		where span
		count int
	)
	if err := webpChunks(file, func(off int, id string, p []byte) {
		if id == "C2PA" {
			count++
			store, where = p, span{off, 8 + len(p)}
		}
	}); err != nil {
		return nil, span{}, err
	}
	switch count {
	case 0:
		return nil, span{}, ErrNoManifest
	case 1:
		return store, where, nil
	}
	return nil, span{}, fmt.Errorf("the file holds %d C2PA chunks", count)
}

// webpWith returns file with store as its last chunk (any C2PA chunk it
// held removed) and where that chunk is.
func webpWith(file, store []byte) ([]byte, span, error) {
	out := make([]byte, 12, len(file)+len(store)+9)
	copy(out, file[:12])
	if err := webpChunks(file, func(off int, id string, p []byte) {
		if id != "C2PA" {
			end := off + 8 + len(p) + len(p)&1
			out = append(out, file[off:min(end, len(file))]...)
		}
	}); err != nil {
		return nil, span{}, err
	}
	where := span{Start: len(out), Length: 8 + len(store)}
	out = append(out, "C2PA"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(store)))
	out = append(out, store...)
	if len(store)&1 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, where, nil
}

// Embed returns file with store put in its format's place, replacing
// any store it held. The store is not checked: a file changed after
// signing fails its hard binding.
func Embed(file []byte, format string, store []byte) ([]byte, error) {
	out, _, err := embed(file, format, store)
	return out, err
}

// embed returns file with store in it, in its format's place.
func embed(file []byte, format string, store []byte) ([]byte, span, error) {
	switch format {
	case "jpeg":
		return jpegWith(file, store)
	case "webp":
		return webpWith(file, store)
	}
	return nil, span{}, fmt.Errorf("C2PA in %q files is not written", format)
}

// Unwrap returns the manifest store held by b, the bytes at a store's
// place in a file (FindStore's span): the JPEG APP11 segments or the WebP
// chunk, their headers taken off.
func Unwrap(b []byte, format string) ([]byte, error) {
	switch format {
	case "jpeg":
		// The segments between a start of image and a start of scan are
		// a JPEG header that jpegStore reads.
		file := append(append([]byte{0xFF, 0xD8}, b...), 0xFF, 0xDA, 0, 2)
		store, _, err := jpegStore(file)
		return store, err
	case "webp":
		if len(b) < 8 || string(b[:4]) != "C2PA" || int(binary.LittleEndian.Uint32(b[4:])) != len(b)-8 {
			return nil, fmt.Errorf("not a whole C2PA chunk")
		}
		return b[8:], nil
	}
	return nil, fmt.Errorf("C2PA in %q files is not read", format)
}
