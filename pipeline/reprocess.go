package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// ReprocessOptions say what a reprocess run announces.
type ReprocessOptions struct {
	Gallery string   // one gallery, or
	All     bool     // every gallery in the bucket
	Roles   []string // the roles to re-run; empty: every role
	Rate    float64  // photos per second; 0: no bound
}

// ReprocessSummary is what a run did.
type ReprocessSummary struct {
	Run       string
	Galleries int
	Photos    int
	Events    int // published: one per photo, plus manifests for the assembler
	Skipped   int // objects that are not a gallery's photo or manifest
}

// newRunID is a run id that sorts in the order runs start (the assembler
// lets a newer run replace an unfinished older one).
func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b)
}

// Reprocess re-announces a gallery's (or every gallery's) existing
// originals to the roles, as ingest announced their uploads, under a new
// run (contract.Reprocess), addressed to o.Roles and the assembler
// (contract.RolesHeader), writing its progress to out. The roles reuse
// what is unchanged; the assembler publishes one new record version per
// gallery whose derivatives changed, and none where nothing did.
func Reprocess(ctx context.Context, out io.Writer, js jetstream.JetStream, store *Store, bucket string, o ReprocessOptions) (ReprocessSummary, error) {
	sum := ReprocessSummary{Run: newRunID(time.Now())}
	rp := &reprocessor{js: js, store: store, bucket: bucket, run: sum.Run, out: out,
		limit: rate.NewLimiter(rate.Inf, 1), manifest: len(o.Roles) == 0 || slices.Contains(o.Roles, contract.StageAssembler)}
	if o.Rate > 0 {
		rp.limit = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	if len(o.Roles) > 0 {
		// The assembler always hears of the run: it waits for every
		// photo's new results and then publishes one new version.
		rs := o.Roles
		if !slices.Contains(rs, contract.StageAssembler) {
			rs = append(slices.Clone(rs), contract.StageAssembler)
		}
		rp.roles = strings.Join(rs, ",")
	}
	what := "every role"
	if len(o.Roles) > 0 {
		what = strings.Join(o.Roles, ", ")
	}
	fmt.Fprintf(out, "reprocess run %s: %s\n", sum.Run, what)

	galleries := []string{o.Gallery}
	if o.All {
		var err error
		if galleries, err = rp.galleries(ctx); err != nil {
			return sum, err
		}
	}
	for _, g := range galleries {
		photos, events, skipped, err := rp.gallery(ctx, g)
		sum.Photos += photos
		sum.Events += events
		sum.Skipped += skipped
		if err != nil {
			fmt.Fprintf(out, "%d galleries, %d photos, %d events published before the error\n", sum.Galleries, sum.Photos, sum.Events)
			return sum, fmt.Errorf("gallery %s: %w (its record waits until reprocess runs again for it)", g, err)
		}
		if photos+events == 0 && !o.All {
			return sum, fmt.Errorf("gallery %s: no originals under %s/%s/", g, bucket, g)
		}
		if photos+events > 0 {
			sum.Galleries++
		}
		fmt.Fprintf(out, "  %-40s %d photos, %d events\n", g, photos, events)
	}
	fmt.Fprintf(out, "%d galleries, %d photos, %d events published", sum.Galleries, sum.Photos, sum.Events)
	if sum.Skipped > 0 {
		fmt.Fprintf(out, "; %d objects skipped (not a gallery's photo or manifest)", sum.Skipped)
	}
	fmt.Fprintln(out)
	return sum, nil
}

type reprocessor struct {
	js       jetstream.JetStream
	store    *Store
	bucket   string
	run      string
	roles    string // the RolesHeader value; "" for every role
	manifest bool   // announce gallery.json too (the assembler is addressed)
	limit    *rate.Limiter
	out      io.Writer
}

// galleries lists the gallery ids in the originals bucket.
func (rp *reprocessor) galleries(ctx context.Context) ([]string, error) {
	var out []string
	for obj := range rp.store.ListObjects(ctx, rp.bucket, minio.ListObjectsOptions{}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", rp.bucket, obj.Err)
		}
		g, ok := strings.CutSuffix(obj.Key, "/")
		if !ok || obj.Key == contract.ReservedPrefix || contract.ValidGalleryID(g) != nil {
			continue // a loose object, photodesk's own, or not a gallery
		}
		out = append(out, g)
	}
	return out, nil
}

// gallery announces one gallery's originals. It reads them all first, so
// every event can say how many photos the run announces.
func (rp *reprocessor) gallery(ctx context.Context, gallery string) (photos, events, skipped int, err error) {
	var originals []contract.Original
	var manifest *contract.Original
	for obj := range rp.store.ListObjects(ctx, rp.bucket, minio.ListObjectsOptions{Prefix: gallery + "/", Recursive: true}) {
		if obj.Err != nil {
			return 0, 0, 0, fmt.Errorf("list %s/%s/: %w", rp.bucket, gallery, obj.Err)
		}
		_, name, err := contract.SplitKey(obj.Key)
		if err != nil {
			fmt.Fprintf(rp.out, "  skipped %s: %v\n", obj.Key, err)
			skipped++
			continue
		}
		if name == contract.ManifestName && !rp.manifest {
			continue
		}
		o, ok, err := rp.original(ctx, obj)
		if err != nil {
			return 0, 0, skipped, err
		}
		switch {
		case !ok: // deleted since the listing
		case name == contract.ManifestName:
			manifest = &o
		default:
			originals = append(originals, o)
		}
	}
	for _, o := range originals {
		o.Reprocess = &contract.Reprocess{Run: rp.run, Photos: len(originals)}
		if err := rp.limit.Wait(ctx); err != nil {
			return photos, events, skipped, err
		}
		if err := rp.publish(ctx, o); err != nil {
			return photos, events, skipped, err
		}
		photos++
		events++
	}
	if manifest != nil {
		if err := rp.publish(ctx, *manifest); err != nil {
			return photos, events, skipped, err
		}
		events++
	}
	return photos, events, skipped, nil
}

// original reads what ingest would have read from the object's upload
// notification; ok is false when the object is gone.
func (rp *reprocessor) original(ctx context.Context, obj minio.ObjectInfo) (o contract.Original, ok bool, err error) {
	info, err := rp.store.StatObject(ctx, rp.bucket, obj.Key, minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("stat %s: %w", obj.Key, err)
	}
	return OriginalOf(rp.bucket, info, obj), true, nil
}

// publish sends the event ingest would have, under a Msg-Id of this run (the
// upload's own was seen within the duplicate window, perhaps), addressed to
// the run's roles.
func (rp *reprocessor) publish(ctx context.Context, o contract.Original) error {
	ev, err := contract.OriginalEvent(o)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: ev.Subject, Data: ev.Data, Header: nats.Header{}}
	if rp.roles != "" {
		msg.Header.Set(contract.RolesHeader, rp.roles)
	}
	if _, err := rp.js.PublishMsg(ctx, msg, jetstream.WithMsgID(contract.ReprocessMsgID(rp.run, ev.MsgID))); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("publish %s: %w", ev.Subject, err)
	}
	return nil
}
