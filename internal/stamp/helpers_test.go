package stamp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

func TestMain(m *testing.M) {
	vips.LoggingSettings(nil, vips.LogLevelError)
	vips.Startup(&vips.Config{})
	os.Exit(m.Run())
}

// encode makes a picture with libvips, as internal/imaging does:
// metadata stripped, JPEG progressive with optimised tables.
func encode(t testing.TB, format string, w, h int, seed int64) []byte {
	t.Helper()
	src, err := fixture.JPEG(fixture.Scene(w, h, seed), 95, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := vips.NewImageFromBuffer(src)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var b []byte
	switch format {
	case "jpeg":
		b, _, err = img.ExportJpeg(&vips.JpegExportParams{StripMetadata: true, Quality: 85, Interlace: true, OptimizeCoding: true})
	case "webp":
		b, _, err = img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Quality: 80})
	case "webp-lossless":
		b, _, err = img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Lossless: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustStamp stamps b or fails.
func mustStamp(t testing.TB, b []byte, format string, m stamp.Metadata) []byte {
	t.Helper()
	out, err := stamp.File(b, format, m)
	if err != nil {
		t.Fatalf("stamp %s: %v", format, err)
	}
	return out
}

// exiftool runs the reference reader on b (every tag, -G1 groups, structs
// as JSON, GPS as decimal degrees, with its validator) and returns its one
// JSON record.
func exiftool(t *testing.T, b []byte, ext string, args ...string) map[string]any {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl): it is the judge of what stamp writes")
	}
	path := filepath.Join(t.TempDir(), "f."+ext)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-j", "-G1", "-a", "-struct", "-c", "%.7f", "-api", "validate=1", "-all",
		"-Validate", "-CurrentIPTCDigest", "-Warning", "-Error"}, append(args, path)...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exiftool %v: %v\n%s%s", args, err, out, stderr.Bytes())
	}
	var recs []map[string]any
	if err := json.Unmarshal(out, &recs); err != nil || len(recs) != 1 {
		t.Fatalf("exiftool output %s: %v", out, err)
	}
	return recs[0]
}

var shanghai = time.FixedZone("CST", 8*3600)

// full is a Metadata with every field, in Chinese where a newsroom would
// write Chinese.
func full() stamp.Metadata {
	at := time.Date(2026, 7, 28, 10, 41, 30, 0, shanghai)
	alt := -12.5
	return stamp.Metadata{
		Rights: contract.Rights{
			Creator:         contract.Names{"张晓明", "李华", "Jane O'Doe"},
			Credit:          "工人日报",
			Source:          "工人日报社摄影部",
			CopyrightNotice: "© 2026 工人日报",
			CopyrightHolder: "工人日报社",
			UsageTerms:      "仅限新闻报道使用 <editorial only> & no resale",
			WebStatement:    "https://example.com/licence?a=1&b=2",
			Licensor:        &contract.Licensor{Name: "工人日报图片库", URL: "https://images.example.com/"},
			Keywords:        []string{"劳动模范", "北京", "workers"},
			Location:        &contract.Location{City: "北京", ProvinceState: "北京市", Country: "中国", CountryCode: "CHN"},
			AltText:         "工人在车间里检查机器",
		},
		Headline: "高清大图|劳动者的一天",
		Caption:  "7月28日,工人在车间里检查机器。\n第二行",
		Created:  &at,
		GPS:      &contract.GPS{Lat: 39.9042, Lon: -116.4074, Alt: &alt},
	}
}
