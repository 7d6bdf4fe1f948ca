package photometa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var le = binary.LittleEndian

// wantBadInput runs Extract on b, with a deadline (a loop must not hang the
// test run) and a bound on the bytes allocated (a huge count must not become
// a huge allocation), and checks the error wraps ErrBadInput and says msg.
func wantBadInput(t *testing.T, b []byte, msg string) {
	t.Helper()
	var (
		err   error
		alloc uint64
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = Extract(bytes.NewReader(b), int64(len(b)), shanghai)
		runtime.ReadMemStats(&after)
		alloc = after.TotalAlloc - before.TotalAlloc
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Extract did not return within 10s")
	}
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("err = %v, want ErrBadInput", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("err = %q, want it to say %q", err, msg)
	}
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes, want < 4 MiB", alloc)
	}
}

// tinyTIFF is a 26-byte TIFF: header, an IFD0 of one entry, no next IFD.
func tinyTIFF(count uint16, tag, typ uint16, n, value uint32) []byte {
	b := []byte("II*\x00\x08\x00\x00\x00")
	b = le.AppendUint16(b, count)
	b = le.AppendUint16(b, tag)
	b = le.AppendUint16(b, typ)
	b = le.AppendUint32(b, n)
	b = le.AppendUint32(b, value)
	return le.AppendUint32(b, 0)
}

// In goexif, a value of count×size bytes is computed in 32 bits: 0x80000001
// SHORTs wrap to 2 bytes, read inline, and then 0x80000001 int64s (16 GiB)
// are allocated to hold them. The guard computes in 64 bits.
func TestHugeValueCount(t *testing.T) {
	for _, c := range []struct {
		name     string
		typ      uint16
		n, value uint32
	}{
		{"SHORT wraps to 2 bytes", typeShort, 0x80000001, 0},
		{"LONG wraps to 4 bytes", typeLong, 0x40000001, 0},
		{"RATIONAL wraps to 8 bytes", typeRational, 0x20000001, 8},
		{"DOUBLE wraps to 0 bytes", 12, 0x20000000, 8},
		{"ASCII max count", typeASCII, 0xFFFFFFFF, 8},
		{"BYTE past the block", typeByte, 0x7FFFFFFF, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			tiff := tinyTIFF(1, tagMake, c.typ, c.n, c.value)
			if len(tiff) != 26 {
				t.Fatalf("len = %d", len(tiff))
			}
			wantBadInput(t, tiff, "past the end of the 26-byte block")
			wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(tiff)), "past the end of the 26-byte block")
		})
	}
}

func TestHugeEntryCount(t *testing.T) {
	tiff := tinyTIFF(0xFFFF, tagMake, typeASCII, 4, 0)
	wantBadInput(t, tiff, "corrupt EXIF: IFD at offset 8 (IFD0) claims 65535 entries but only 18 bytes remain")
	wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(tiff)), "claims 65535 entries")
}

func TestIFDLoops(t *testing.T) {
	spec := basicEXIF()
	spec.ifd1 = []field{long(0x0201, 0), long(0x0202, 0)}
	base, l := spec.build()

	t.Run("IFD1 back to IFD0", func(t *testing.T) {
		b := bytes.Clone(base)
		le.PutUint32(b[nextAt(b, l.ifd1):], uint32(l.ifd0))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "IFD loop: IFD2 at offset 8 was already read as IFD0")
	})
	t.Run("IFD0 to itself", func(t *testing.T) {
		b := bytes.Clone(base)
		le.PutUint32(b[nextAt(b, l.ifd0):], uint32(l.ifd0))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "IFD loop: IFD1 at offset 8")
	})
	t.Run("IFD2 back to IFD1", func(t *testing.T) {
		// IFD0 → IFD1 → (the Exif IFD as) IFD2 → IFD1: goexif's own check
		// only catches an IFD pointing to itself.
		b := bytes.Clone(base)
		le.PutUint32(b[nextAt(b, l.ifd1):], uint32(l.exif))
		le.PutUint32(b[nextAt(b, l.exif):], uint32(l.ifd1))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "IFD loop: IFD3")
	})
	t.Run("Exif IFD to itself", func(t *testing.T) {
		s := basicEXIF()
		s.exif = append(s.exif, long(tagExifIFD, 0))
		b, l := s.build()
		le.PutUint32(b[entryAt(t, b, l.exif, tagExifIFD)+8:], uint32(l.exif))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "IFD loop: Exif IFD at offset")
	})
	t.Run("GPS pointer to the Exif IFD", func(t *testing.T) {
		s := basicEXIF()
		s.gps = gpsFields()
		b, l := s.build()
		le.PutUint32(b[entryAt(t, b, l.ifd0, tagGPSIFD)+8:], uint32(l.exif))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "IFD loop: GPS IFD")
	})
	t.Run("Exif pointer to IFD0", func(t *testing.T) {
		b := bytes.Clone(base)
		le.PutUint32(b[entryAt(t, b, l.ifd0, tagExifIFD)+8:], uint32(l.ifd0))
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "already read as IFD0")
	})
}

// Found by FuzzGuard: an Exif IFD inside IFD0's table. The guard edits
// entries in place, so an edit made while checking one could undo the check
// of the other; overlapping IFDs are refused.
func TestOverlappingIFDs(t *testing.T) {
	b, l := basicEXIF().build()
	at := nextAt(b, l.ifd0) // reads as an IFD of no entries
	le.PutUint32(b[entryAt(t, b, l.ifd0, tagExifIFD)+8:], uint32(at))
	wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), fmt.Sprintf("Exif IFD at offset %d overlaps IFD0 at offset 8", at))

	// The fuzzer's own input: a big-endian IFD0 whose Exif pointer lands in
	// its table, the Exif IFD's edits then breaking an IFD0 entry.
	crash := []byte("MM\x00*\x00\x00\x00\b\x00\x0500\x00\x02\x00\x00\x000\x00\x00\x00000\x00\x02\x00\x00\x000\x00\x00\x00000\x00\x03\x00\x00\x00\x010000000000000000\x87i\x00\x04\x00\x00\x00\x01\x00\x00\x00(\x00\x00\x00\x00" + strings.Repeat("0", 114))
	wantBadInput(t, crash, "overlaps IFD0")
}

// Some cameras leave out a sub-IFD's next pointer and start the next IFD
// where it would be (a ViviCam X30 among goexif's samples): not an overlap.
func TestSubIFDWithoutNextPointer(t *testing.T) {
	b := []byte("II*\x00\x08\x00\x00\x00")
	b = le.AppendUint16(b, 2) // IFD0 at 8
	b = append(b, 0x0F, 0x01, typeASCII, 0, 4, 0, 0, 0, 'C', 'a', 'n', 0)
	b = append(b, 0x69, 0x87, typeLong, 0, 1, 0, 0, 0, 38, 0, 0, 0)
	b = le.AppendUint32(b, 54) // IFD1
	b = le.AppendUint16(b, 1)  // Exif IFD at 38
	b = append(b, 0x03, 0x90, typeASCII, 0, 20, 0, 0, 0, 60, 0, 0, 0)
	b = append(b, 0, 0)                         // half a next pointer: IFD1 starts here
	b = append(b, 0, 0, 0, 0, 0, 0)             // IFD1 at 54: no entries, no next
	b = append(b, "2026:07:28 09:30:00\x00"...) // at 60
	x := mustExtract(t, jpegFile(t, 8, 8, exifAPP1(b)))
	if x.Make != "Can" {
		t.Errorf("Make = %q", x.Make)
	}
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
}

// A sub-IFD pointer of two values is skipped: goexif would follow the first,
// kept outside the entry where a later edit of the guard could change it.
func TestPointerWithManyValues(t *testing.T) {
	b, l := basicEXIF().build()
	p := entryAt(t, b, l.ifd0, tagExifIFD)
	le.PutUint32(b[p+4:], 2)                   // count 2: the values move out of the entry
	le.PutUint32(b[p+8:], uint32(l.exif+2+12)) // to some bytes inside the Exif IFD
	x := mustExtract(t, jpegFile(t, 8, 8, exifAPP1(b)))
	if x.DateSource != "DateTime" || !containsNote(x.Notes, "skipped 1 malformed IFD entries") {
		t.Errorf("got %+v", x)
	}
}

func TestOffsetsOutsideBlock(t *testing.T) {
	base, l := basicEXIF().build()
	patch := func(at int, v uint32) []byte {
		b := bytes.Clone(base)
		le.PutUint32(b[at:], v)
		return jpegFile(t, 8, 8, exifAPP1(b))
	}
	wantBadInput(t, patch(4, 0xFFFF0000), "IFD0 offset 4294901760 is outside the")
	wantBadInput(t, patch(4, 4), "IFD0 offset 4 points into the TIFF header")
	wantBadInput(t, patch(4, 0), "points to no IFD0")
	wantBadInput(t, patch(entryAt(t, base, l.ifd0, tagMake)+8, 0xFFFFFF00), "entry 0x010F claims 6 values of type 2 (6 bytes) at offset 4294967040, past the end")
	wantBadInput(t, patch(entryAt(t, base, l.ifd0, tagExifIFD)+8, uint32(len(base)+100)), "Exif IFD offset")
	wantBadInput(t, patch(nextAt(base, l.ifd0), uint32(len(base)-3)), "IFD1")

	// A signed pointer that reads as negative.
	b := bytes.Clone(base)
	p := entryAt(t, b, l.ifd0, tagExifIFD)
	le.PutUint16(b[p+2:], typeSLong)
	le.PutUint32(b[p+8:], 0xFFFFFFFF)
	wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "Exif IFD offset -1 points into the TIFF header")
}

func TestGuardLimits(t *testing.T) {
	t.Run("IFDs", func(t *testing.T) {
		b := []byte("II*\x00\x08\x00\x00\x00")
		for i := range maxIFDs + 1 {
			b = le.AppendUint16(b, 0)
			b = le.AppendUint32(b, uint32(8+6*(i+1)))
		}
		b = append(b, 0, 0, 0, 0, 0, 0)
		wantBadInput(t, b, "more than 32 IFDs")
	})
	t.Run("entries", func(t *testing.T) {
		b := []byte("II*\x00\x08\x00\x00\x00")
		b = le.AppendUint16(b, maxIFDEntries+1)
		for range maxIFDEntries + 1 {
			b = append(b, 0x0E, 0x01, typeUndefined, 0, 4, 0, 0, 0, 0, 0, 0, 0)
		}
		b = le.AppendUint32(b, 0)
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "more than 4096 IFD entries")
	})
	t.Run("decode cost", func(t *testing.T) {
		// 200 entries whose values all claim the same 50,000 bytes.
		b := []byte("II*\x00\x08\x00\x00\x00")
		b = le.AppendUint16(b, 200)
		for range 200 {
			b = append(b, 0x0E, 0x01, typeByte, 0)
			b = le.AppendUint32(b, 50000)
			b = le.AppendUint32(b, 8)
		}
		b = le.AppendUint32(b, 0)
		b = append(b, make([]byte, 50000)...)
		wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(b)), "would take over 8 MiB to decode")
	})
}

func TestTruncatedEXIF(t *testing.T) {
	tiff, _ := basicEXIF().build()
	b := jpegFile(t, 8, 8, exifAPP1(tiff))
	segLen := int(binary.BigEndian.Uint16(b[4:]))
	wantBadInput(t, b[:4+segLen/2], "truncated EXIF: APP1 segment at offset 2 claims")

	// The segment is whole but the TIFF block in it is cut short.
	cut := tiff[:len(tiff)-20]
	wantBadInput(t, jpegFile(t, 8, 8, exifAPP1(cut)), "past the end of the")
}

func TestEmptyAndNotAnImage(t *testing.T) {
	wantBadInput(t, nil, "empty file")

	// A text file named .jpg: the name says nothing.
	name := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(name, []byte("this is not a photo, just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	_, err = Extract(f, st.Size(), shanghai)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "not an image: unrecognised file signature") {
		t.Errorf("err = %v", err)
	}
	for _, b := range [][]byte{{0xFF}, {0xFF, 0xD8}, []byte("RIFF\x00\x00\x00\x00WAVE"), []byte("\x00\x00\x00\x18ftypisom")} {
		wantBadInput(t, b, "not an image")
	}
}

// Entries goexif would fail the whole IFD on (an unknown type, no values)
// are skipped, not fatal: old Kodak cameras write an empty Copyright.
func TestOddEntriesSkipped(t *testing.T) {
	spec := basicEXIF()
	spec.ifd0 = append(spec.ifd0,
		field{tag: 0x8298, typ: typeASCII, count: 0, data: []byte{}}, // filled in below
		field{tag: 0x9999, typ: 99, count: 1, data: []byte{1, 2, 3, 4}},
	)
	b, l := spec.build()
	le.PutUint32(b[entryAt(t, b, l.ifd0, 0x8298)+4:], 0) // count 0
	x := mustExtract(t, jpegFile(t, 8, 8, exifAPP1(b)))
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	if !containsNote(x.Notes, "skipped 2 malformed IFD entries") {
		t.Errorf("notes %q", x.Notes)
	}
}

// A sub-IFD pointer of type 13 (IFD) is a LONG by another name.
func TestIFDTypePointer(t *testing.T) {
	spec := basicEXIF()
	spec.gps = gpsFields()
	b, l := spec.build()
	le.PutUint16(b[entryAt(t, b, l.ifd0, tagGPSIFD)+2:], typeIFD)
	x := mustExtract(t, jpegFile(t, 8, 8, exifAPP1(b)))
	if x.GPS == nil {
		t.Errorf("GPS not read through a type-13 pointer; notes %q", x.Notes)
	}
}

// goexif's own corrupt samples, read from the module cache.
func TestGoexifCorruptSamples(t *testing.T) {
	dir := goexifDir(t)
	for name, msg := range map[string]string{
		"huge_tag_exif.jpg":      "entry 0x8827 claims 4278124286 values",
		"max_uint32_exif.jpg":    "entry 0x8827 claims 4294967295 values",
		"infinite_loop_exif.jpg": "IFD1 at offset 72 overlaps IFD0 at offset 8",
	} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "corrupt", name))
			if err != nil {
				t.Fatal(err)
			}
			wantBadInput(t, b, msg)
		})
	}
}
