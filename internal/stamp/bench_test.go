package stamp_test

import (
	"testing"

	"github.com/photodesk/photodesk/internal/stamp"
)

// BenchmarkStamp: stamping a 2048 px rendition (a caption correction
// re-stamps every rendition of a photo), JPEG and WebP as libvips writes
// them, with every field set.
func BenchmarkStamp(b *testing.B) {
	m := full()
	for _, f := range []string{"jpeg", "webp"} {
		file := encode(b, f, 2048, 1365, 14)
		b.Run(f, func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stamp.File(file, f, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
