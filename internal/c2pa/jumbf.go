package c2pa

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// JUMBF (ISO/IEC 19566-5) is the box format C2PA stores manifests in: a
// superbox ("jumb") holds a description box ("jumd": a type UUID and a
// label) and then content boxes ("cbor", "json", ...) or more superboxes.
// No maintained Go package reads or writes it; this is the small part C2PA
// uses.

// Box is one JUMBF box. A superbox has Label, UUID and Children; a
// content box has Data.
type Box struct {
	Type     string // four characters
	UUID     [16]byte
	Label    string
	Children []*Box
	Data     []byte

	// payload is a parsed superbox's payload as read (its description and
	// children, without its own header): what a hashed URI's hash covers.
	payload []byte
	// verbatim says a parsed box was in the form Append writes: 32-bit
	// sizes, and a description of toggles 0x03 with nothing after the
	// label. Such a store re-encodes to the bytes it was read from.
	verbatim bool
}

// c2paUUID is a JUMBF type UUID in the C2PA form: four characters and
// the fixed ISO suffix.
func c2paUUID(fourcc string) [16]byte {
	var u [16]byte
	copy(u[:], fourcc)
	suffix, _ := hex.DecodeString("00110010800000AA00389B71")
	copy(u[4:], suffix)
	return u
}

var (
	uuidStore      = c2paUUID("c2pa")
	uuidManifest   = c2paUUID("c2ma")
	uuidAssertions = c2paUUID("c2as")
	uuidClaim      = c2paUUID("c2cl")
	uuidSignature  = c2paUUID("c2cs")
	uuidCBOR       = c2paUUID("cbor")
	uuidJSON       = c2paUUID("json")
)

// superbox returns a superbox of the given type and label holding children.
func superbox(uuid [16]byte, label string, children ...*Box) *Box {
	return &Box{Type: "jumb", UUID: uuid, Label: label, Children: children}
}

// cborAssertion and jsonAssertion are an assertion's superbox.
func cborAssertion(label string, data []byte) *Box {
	return superbox(uuidCBOR, label, &Box{Type: "cbor", Data: data})
}

func jsonAssertion(label string, data []byte) *Box {
	return superbox(uuidJSON, label, &Box{Type: "json", Data: data})
}

// Payload is a superbox's description and children, without its header:
// the bytes a C2PA hashed URI hashes.
func (b *Box) Payload() []byte {
	if b.payload != nil {
		return b.payload
	}
	return b.appendPayload(nil)
}

// Append writes the whole box, header included, after dst.
func (b *Box) Append(dst []byte) []byte {
	p := b.Payload()
	if b.Type != "jumb" {
		p = b.Data
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(p)))
	dst = append(dst, b.Type...)
	return append(dst, p...)
}

func (b *Box) appendPayload(dst []byte) []byte {
	// The description box: type UUID, toggles 0x03 (requestable, label
	// present) and the label, NUL-terminated.
	d := make([]byte, 0, 17+len(b.Label)+1)
	d = append(d, b.UUID[:]...)
	d = append(d, 0x03)
	d = append(d, b.Label...)
	d = append(d, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(d)))
	dst = append(dst, "jumd"...)
	dst = append(dst, d...)
	for _, c := range b.Children {
		dst = c.Append(dst)
	}
	return dst
}

// Child returns the superbox among b's children with the given label.
func (b *Box) Child(label string) *Box {
	for _, c := range b.Children {
		if c.Type == "jumb" && c.Label == label {
			return c
		}
	}
	return nil
}

// Content returns the data of b's first content box of type typ.
func (b *Box) Content(typ string) []byte {
	for _, c := range b.Children {
		if c.Type == typ {
			return c.Data
		}
	}
	return nil
}

// Limits on what ParseJUMBF accepts: a C2PA store nests five deep (store,
// manifest, assertion store, assertion, content) and a deep or wide
// hostile one is refused rather than walked.
const (
	maxDepth = 10
	maxBoxes = 4096
)

// ErrJUMBF wraps every reason a JUMBF store is refused.
var ErrJUMBF = errors.New("malformed JUMBF")

// ParseJUMBF reads one superbox from b (which holds exactly it).
func ParseJUMBF(b []byte) (*Box, error) {
	n := 0
	box, rest, err := parseBox(b, 0, &n)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the store", ErrJUMBF, len(rest))
	}
	if box.Type != "jumb" {
		return nil, fmt.Errorf("%w: the store is a %q box, not a superbox", ErrJUMBF, box.Type)
	}
	return box, nil
}

func parseBox(b []byte, depth int, n *int) (*Box, []byte, error) {
	if *n++; *n > maxBoxes {
		return nil, nil, fmt.Errorf("%w: more than %d boxes", ErrJUMBF, maxBoxes)
	}
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: a box header is cut short (%d bytes)", ErrJUMBF, len(b))
	}
	size, typ, hdr := uint64(binary.BigEndian.Uint32(b)), string(b[4:8]), uint64(8)
	plain := size > 1
	switch size {
	case 0: // to the end
		size = uint64(len(b))
	case 1: // a 64-bit length follows
		if len(b) < 16 {
			return nil, nil, fmt.Errorf("%w: a box's long length is cut short", ErrJUMBF)
		}
		size, hdr = binary.BigEndian.Uint64(b[8:]), 16
	}
	if size < hdr || size > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: the %q box says %d bytes, %d are there", ErrJUMBF, typ, size, len(b))
	}
	body, rest := b[hdr:size], b[size:]
	if typ != "jumb" {
		return &Box{Type: typ, Data: body, verbatim: plain}, rest, nil
	}
	if depth >= maxDepth {
		return nil, nil, fmt.Errorf("%w: superboxes nested deeper than %d", ErrJUMBF, maxDepth)
	}
	box := &Box{Type: typ, payload: body}
	d, kids, err := parseBox(body, depth+1, n)
	if err != nil {
		return nil, nil, err
	}
	if d.Type != "jumd" || len(d.Data) < 17 {
		return nil, nil, fmt.Errorf("%w: a superbox does not start with its description", ErrJUMBF)
	}
	copy(box.UUID[:], d.Data)
	if toggles := d.Data[16]; toggles&0x02 != 0 {
		label := d.Data[17:]
		end := 0
		for end < len(label) && label[end] != 0 {
			end++
		}
		if end == len(label) {
			return nil, nil, fmt.Errorf("%w: a description's label is not terminated", ErrJUMBF)
		}
		box.Label = string(label[:end])
		box.verbatim = plain && d.verbatim && toggles == 0x03 && end == len(label)-1
	}
	for len(kids) > 0 {
		var c *Box
		if c, kids, err = parseBox(kids, depth+1, n); err != nil {
			return nil, nil, err
		}
		box.Children = append(box.Children, c)
	}
	return box, rest, nil
}

// Edited drops what the boxes from root down to each changed box
// remember of their bytes as read, so that root.Append writes the edits
// and leaves every other box byte for byte as it was read.
func Edited(root *Box, changed ...*Box) *Box {
	var walk func(b, target *Box) bool
	walk = func(b, target *Box) bool {
		found := b == target
		for _, c := range b.Children {
			found = walk(c, target) || found
		}
		if found {
			b.payload = nil
		}
		return found
	}
	for _, c := range changed {
		walk(root, c)
	}
	return root
}
