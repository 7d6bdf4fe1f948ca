package photometa

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// goexif trusts what it reads: an entry count of 0x80000001 SHORTs makes it
// allocate 16 GB (an OOM that recover cannot catch), and IFD next-pointers
// that go round in a circle keep it reading forever. So before goexif sees a
// byte, guardTIFF walks the same structure goexif will walk (IFD0 and its
// next-IFD chain, as tiff.Decode reads them; then the Exif, GPS and
// Interoperability sub-IFDs, whose pointers goexif takes from IFD0 and from
// the Exif IFD) and checks every count and offset against the block.

// Limits on what goexif is allowed to decode. Real EXIF has under ten IFDs,
// a few hundred entries and well under a megabyte of values.
const (
	maxIFDs       = 32
	maxIFDEntries = 4096    // over all IFDs; also keeps counts below goexif's int16 limit
	maxDecodeCost = 8 << 20 // goexif's allocations for tag values, estimated by decodeCost
)

// errEXIFBeyondHead means IFD0 of a raw TIFF lies beyond the head that was
// read. It is not an error in the file; Extract reports it as a note.
var errEXIFBeyondHead = errors.New("IFD0 lies beyond the bytes read")

// errBeyondHead is a visit's way of saying the same of any IFD or value.
var errBeyondHead = errors.New("beyond the bytes read")

// Tag IDs of the sub-IFD pointers goexif follows.
const (
	tagExifIFD    = 0x8769
	tagGPSIFD     = 0x8825
	tagInteropIFD = 0xA005
)

var subIFDNames = map[uint16]string{
	tagExifIFD:    "Exif IFD",
	tagGPSIFD:     "GPS IFD",
	tagInteropIFD: "Interop IFD",
}

// tiffTypeSize is the size of one value of each TIFF field type (TIFF 6.0
// section 2); the types goexif knows. Others have size 0.
var tiffTypeSize = [13]uint64{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8}

const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeSByte     = 6
	typeUndefined = 7
	typeSShort    = 8
	typeSLong     = 9
	typeSRational = 10
	typeIFD       = 13 // TIFF-EP: a LONG that points to an IFD
)

// tiffGuard holds one check of one block.
type tiffGuard struct {
	b       []byte
	limit   int64 // size of the stream b is the head of; len(b) unless a raw TIFF
	order   binary.ByteOrder
	seen    map[int64]string // IFD offset -> name, to catch loops
	tables  []ifdTable       // where the IFDs read so far lie
	entries int
	cost    int64
	skipped int // entries of unknown type or with no values
	beyond  int // entries whose values lie beyond the head
}

// ifdTable is the bytes of one IFD: count, entries, next pointer.
type ifdTable struct {
	name       string
	start, end int64
}

// ifd is what a visit learnt of one IFD.
type ifd struct {
	next     int64 // offset of the next IFD in the chain, 0 for none
	nextAt   int   // where next is stored in b
	pointers []ifdPointer
}

// ifdPointer is a sub-IFD pointer entry.
type ifdPointer struct {
	name string
	off  int64
	at   int // the entry's position in b
}

// guardTIFF checks the TIFF block b (the head of a stream of limit bytes)
// before goexif decodes it. A violation is an error wrapping ErrBadInput.
//
// It edits b in two harmless ways, so goexif can read the rest. An entry of
// unknown type or with no values (on which goexif would fail the whole IFD),
// or a sub-IFD pointer of more than one value, becomes an UNDEFINED entry of
// 4 inline bytes that no one reads; type 13 (IFD) becomes LONG, its layout.
// In a raw TIFF's head, values and IFDs that lie beyond the head but within
// the file are cut off the same way (or by ending the IFD chain early). It
// returns notes on what it did.
func guardTIFF(b []byte, limit int64) ([]string, error) {
	if len(b) < 8 {
		return nil, BadInput("corrupt EXIF: block of %d bytes is too short for a TIFF header", len(b))
	}
	g := &tiffGuard{b: b, limit: max(limit, int64(len(b))), seen: map[int64]string{}}
	switch string(b[:4]) {
	case "II*\x00":
		g.order = binary.LittleEndian
	case "MM\x00*":
		g.order = binary.BigEndian
	default:
		return nil, BadInput("corrupt EXIF: no TIFF header (block starts % X)", b[:4])
	}
	var notes []string
	off, linkAt := int64(g.order.Uint32(b[4:])), 4
	if off == 0 {
		return nil, BadInput("corrupt EXIF: TIFF header points to no IFD0")
	}
	var ptrs []ifdPointer
	for i := 0; off != 0; i++ {
		name := fmt.Sprintf("IFD%d", i)
		d, err := g.visit(name, off, true)
		if errors.Is(err, errBeyondHead) {
			if i == 0 {
				return nil, errEXIFBeyondHead
			}
			g.order.PutUint32(b[linkAt:], 0) // end the chain here
			notes = append(notes, fmt.Sprintf("TIFF: %s and after lie beyond the first %d KiB; not read", name, len(b)>>10))
			break
		} else if err != nil {
			return nil, err
		}
		if i == 0 {
			ptrs = d.pointers
		}
		off, linkAt = d.next, d.nextAt
	}
	for len(ptrs) > 0 {
		p := ptrs[0]
		ptrs = ptrs[1:]
		d, err := g.visit(p.name, p.off, false)
		if errors.Is(err, errBeyondHead) {
			g.neutralise(p.at)
			notes = append(notes, fmt.Sprintf("TIFF: %s lies beyond the first %d KiB; not read", p.name, len(b)>>10))
			continue
		} else if err != nil {
			return nil, err
		}
		if p.name == subIFDNames[tagExifIFD] { // goexif loads the Exif IFD with IFD0's field map, pointers included
			ptrs = append(ptrs, d.pointers...)
		}
	}
	if g.skipped > 0 {
		notes = append(notes, fmt.Sprintf("EXIF: skipped %d malformed IFD entries (unknown type, no values, a pointer of several values, or XMP or IPTC past the end)", g.skipped))
	}
	if g.beyond > 0 {
		notes = append(notes, fmt.Sprintf("TIFF: skipped %d entries whose values lie beyond the first %d KiB", g.beyond, len(b)>>10))
	}
	return notes, nil
}

// visit checks the IFD at off: it fits the block, it was not seen before,
// and so do its entries' values. chain says it is in IFD0's chain, whose
// next pointers are followed; a sub-IFD's is read but not used.
func (g *tiffGuard) visit(name string, off int64, chain bool) (ifd, error) {
	var d ifd
	if off < 8 {
		return d, BadInput("corrupt EXIF: %s offset %d points into the TIFF header", name, off)
	}
	if prev, ok := g.seen[off]; ok {
		return d, BadInput("corrupt EXIF: IFD loop: %s at offset %d was already read as %s", name, off, prev)
	}
	if len(g.seen) == maxIFDs {
		return d, BadInput("corrupt EXIF: more than %d IFDs", maxIFDs)
	}
	size := int64(len(g.b))
	if off+2 > size {
		return d, g.past(off+2, "%s offset %d is outside the %d-byte block", name, off, size)
	}
	count := int64(g.order.Uint16(g.b[off:]))
	end := off + 2 + 12*count + 4
	if end > size {
		return d, g.past(end, "IFD at offset %d (%s) claims %d entries but only %d bytes remain", off, name, count, size-off)
	}
	// IFDs that share bytes are not just odd: the guard's edits to one
	// would change the other after it was checked. The bytes that count are
	// the entries, and the next pointer of a chained IFD (some cameras leave
	// a sub-IFD's next pointer out, and the IFD after it starts there).
	used := end
	if !chain {
		used -= 4
	}
	for _, o := range g.tables {
		if off < o.end && used > o.start {
			return d, BadInput("corrupt EXIF: %s at offset %d overlaps %s at offset %d", name, off, o.name, o.start)
		}
	}
	g.tables = append(g.tables, ifdTable{name, off, used})
	if g.entries += int(count); g.entries > maxIFDEntries {
		return d, BadInput("corrupt EXIF: more than %d IFD entries in all", maxIFDEntries)
	}
	g.seen[off] = name
	for i := range count {
		if err := g.entry(name, int(off+2+12*i), &d); err != nil {
			return d, err
		}
	}
	d.nextAt = int(off + 2 + 12*count)
	d.next = int64(g.order.Uint32(g.b[d.nextAt:]))
	return d, nil
}

// entry checks the IFD entry at position at.
func (g *tiffGuard) entry(name string, at int, d *ifd) error {
	b, o := g.b, g.order
	tag, typ, count := o.Uint16(b[at:]), o.Uint16(b[at+2:]), o.Uint32(b[at+4:])
	if typ == typeIFD {
		o.PutUint16(b[at+2:], typeLong)
		typ = typeLong
	}
	var size uint64
	if int(typ) < len(tiffTypeSize) {
		size = tiffTypeSize[typ]
	}
	if size == 0 || count == 0 {
		g.neutralise(at)
		g.skipped++
		return nil
	}
	total := uint64(count) * size // cannot overflow: both factors fit in 32 bits
	valAt := uint64(at + 8)       // values of 4 bytes or less sit in the entry
	if total > 4 {
		valAt = uint64(o.Uint32(b[at+8:]))
		if end := valAt + total; end > uint64(len(b)) {
			if g.limit > int64(len(b)) && end <= uint64(g.limit) {
				g.neutralise(at)
				g.beyond++
				return nil
			}
			if name == "IFD0" && (tag == tagXMP || tag == tagIPTCNAA) {
				// Caption metadata, which goexif does not need: its damage
				// is not the EXIF's (readTIFFCaptionTags notes it).
				g.neutralise(at)
				g.skipped++
				return nil
			}
			return BadInput("corrupt EXIF: %s entry 0x%04X claims %d values of type %d (%d bytes) at offset %d, past the end of the %d-byte block",
				name, tag, count, typ, total, valAt, len(b))
		}
	}
	if g.cost += decodeCost(typ, uint64(count), total); g.cost > maxDecodeCost {
		return BadInput("corrupt EXIF: tag values would take over %d MiB to decode", maxDecodeCost>>20)
	}
	if sub, ok := subIFDNames[tag]; ok {
		if total > 4 {
			// A pointer is one value, kept in the entry. One kept elsewhere
			// could lie in an IFD the guard edits later, changing what goexif
			// follows from what was checked; it is skipped.
			g.neutralise(at)
			g.skipped++
		} else if v, ok := g.firstInt(typ, int(valAt)); ok { // goexif follows a pointer only when it reads as an integer
			d.pointers = append(d.pointers, ifdPointer{name: sub, off: v, at: at})
		}
	}
	return nil
}

// past is the error for a structure that ends at end, past the block: only
// beyond the head when the block is a raw TIFF's head and the file goes on.
func (g *tiffGuard) past(end int64, format string, args ...any) error {
	if g.limit > int64(len(g.b)) && end <= g.limit {
		return errBeyondHead
	}
	return BadInput("corrupt EXIF: "+format, args...)
}

// neutralise makes the entry at position at an UNDEFINED entry of 4 inline
// bytes: goexif decodes it without reading anything else, and nothing in
// this package reads an UNDEFINED value.
func (g *tiffGuard) neutralise(at int) {
	g.order.PutUint16(g.b[at+2:], typeUndefined)
	g.order.PutUint32(g.b[at+4:], 4)
}

// firstInt is the first value of an integer entry, as goexif's Int64(0)
// reads it; ok is false for types goexif does not read as integers.
func (g *tiffGuard) firstInt(typ uint16, at int) (int64, bool) {
	b, o := g.b[at:], g.order
	switch typ {
	case typeByte:
		return int64(b[0]), true
	case typeSByte:
		return int64(int8(b[0])), true
	case typeShort:
		return int64(o.Uint16(b)), true
	case typeSShort:
		return int64(int16(o.Uint16(b))), true
	case typeLong:
		return int64(o.Uint32(b)), true
	case typeSLong:
		return int64(int32(o.Uint32(b))), true
	}
	return 0, false
}

// decodeCost estimates what goexif allocates to decode one entry: the value
// bytes (copied through a growing buffer) and the converted values (an int64
// per integer, a two-element slice per rational, a string for ASCII).
func decodeCost(typ uint16, count, total uint64) int64 {
	c := 256 + 3*total // the Tag itself, and Val
	switch typ {
	case typeASCII:
		c += total
	case typeRational, typeSRational:
		c += 48 * count
	case typeUndefined:
	default:
		c += 8 * count
	}
	return int64(c)
}
