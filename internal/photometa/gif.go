package photometa

import (
	"encoding/binary"
	"errors"
)

// readGIF reads the logical screen size. GIF has no EXIF.
func readGIF(s *source, x *Exif) (container, error) {
	b, err := s.read(6, 4)
	if errors.Is(err, errPastEnd) {
		x.note("GIF: file ends inside its header")
		return container{}, nil
	} else if err != nil {
		return container{}, err
	}
	x.Width = int(binary.LittleEndian.Uint16(b[0:2]))
	x.Height = int(binary.LittleEndian.Uint16(b[2:4]))
	return container{}, nil
}
