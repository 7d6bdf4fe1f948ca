package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestLatestFailures: the latest failures are found among many other events,
// newest first, whatever their number and wherever they are.
func TestLatestFailures(t *testing.T) {
	_, js := devstack.NATSForTest(t, config.Default())
	ctx := context.Background()
	var failed []int // the failures' numbers, in stream order
	for i := range 600 {
		subject, data := contract.GallerySubject(contract.SubjectPhotoExif, "lf"), []byte(`{"gallery":"lf"}`)
		// A burst early on, then sparse ones.
		if (i >= 40 && i < 70) || i%97 == 5 {
			f := contract.Failure{Ref: contract.Ref{Gallery: "lf", Photo: fmt.Sprintf("p%d.jpg", i)}, Stage: "exif", Reason: fmt.Sprint(i)}
			subject = contract.FailedSubject("exif", "lf")
			data, _ = json.Marshal(f)
			failed = append(failed, i)
		}
		if _, err := js.Publish(ctx, subject, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{0, 1, 3, 8, 20, len(failed), 100} {
		got, err := pipeline.LatestFailures(ctx, js, n)
		if err != nil {
			t.Fatal(err)
		}
		want := min(n, len(failed))
		if len(got) != want {
			t.Fatalf("n=%d: %d failures, want %d", n, len(got), want)
		}
		for k, f := range got {
			if w := fmt.Sprint(failed[len(failed)-1-k]); f.Reason != w {
				t.Fatalf("n=%d: failure %d is %s, want %s (newest first)", n, k, f.Reason, w)
			}
		}
	}
}
