package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
	"github.com/photodesk/photodesk/workers/assembler"
)

// articleOptions are photodesk article's own flags: which form to print.
type articleOptions struct {
	preview, previewURL, brief bool
}

func (o *articleOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.preview, "preview", false, "print the HTML preview instead of the record")
	fs.BoolVar(&o.previewURL, "preview-url", false, "print a presigned URL of the HTML preview (valid 24h)")
	fs.BoolVar(&o.brief, "brief", false, "print the record with each photo's renditions as one line each, without URLs and body")
}

// runArticle prints a gallery's current record; without one it says what
// the gallery is waiting for, and exits non-zero.
func runArticle(ctx context.Context, args []string) error {
	var o articleOptions
	c := newCLI("article")
	o.register(c.fs)
	if err := c.parse(args); err != nil {
		return err
	}
	cfg, fs := c.cfg, c.fs
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one gallery id", errUsage)
	}
	gallery := fs.Arg(0)
	if err := contract.ValidGalleryID(gallery); err != nil {
		return err
	}
	if o.previewURL {
		store, err := pipeline.NewStore(cfg)
		if err != nil {
			return err
		}
		if _, err := store.StatObject(ctx, cfg.ArticlesBucket, gallery+"/index.html", minio.StatObjectOptions{}); err != nil {
			return fmt.Errorf("gallery %s has no preview yet%s", gallery, waitingFor(ctx, cfg, gallery))
		}
		u, err := store.PresignedGetObject(ctx, cfg.ArticlesBucket, gallery+"/index.html", 24*time.Hour, nil)
		if err != nil {
			return err
		}
		fmt.Println(u)
		return nil
	}
	if o.brief {
		var buf bytes.Buffer
		if err := printArticle(ctx, &buf, cfg, gallery, false); err != nil {
			return err
		}
		return briefRecord(os.Stdout, buf.Bytes())
	}
	return printArticle(ctx, os.Stdout, cfg, gallery, o.preview)
}

// briefRecord prints a record for a person: the head, then each photo's
// caption and renditions, without the signed URLs.
func briefRecord(out io.Writer, record []byte) error {
	var rec assembler.Ninjs
	if err := json.Unmarshal(record, &rec); err != nil {
		return err
	}
	headline := ""
	if len(rec.Headlines) > 0 {
		headline = rec.Headlines[0].Value
	}
	fmt.Fprintf(out, "%s (ninjs %s, version %s, %s)\n%s\nby %s, %s, %s\n", rec.URI, rec.Type, rec.Version, rec.PubStatus, headline, rec.By, rec.Located, rec.VersionCreated)
	for _, a := range rec.Associations {
		caption := ""
		if len(a.Descriptions) > 0 {
			caption = a.Descriptions[0].Value
		}
		fmt.Fprintf(out, "\n%s %s\n  %s\n  taken %s; %s; by %s\n", a.Name, a.URI, caption, a.ContentCreated, a.EdNote, dash(a.By))
		for _, ti := range a.TrustIndicators {
			fmt.Fprintf(out, "  %s\n", ti.Title)
		}
		for _, r := range a.Renditions {
			fmt.Fprintf(out, "  %-24s %4dx%-4d %7d bytes  %s\n", r.Name, r.Width, r.Height, r.SizeInBytes, r.ContentType)
		}
	}
	return nil
}

func printArticle(ctx context.Context, out io.Writer, cfg config.Config, gallery string, preview bool) error {
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	key := gallery + "/article.json"
	if preview {
		key = gallery + "/index.html"
	}
	obj, err := store.GetObject(ctx, cfg.ArticlesBucket, key, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		if _, err = io.Copy(out, obj); err == nil {
			return nil
		}
	}
	if minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return err
	}
	return fmt.Errorf("gallery %s has no record yet%s", gallery, waitingFor(ctx, cfg, gallery))
}

// waitingFor reads the assembler's state to say what is missing.
func waitingFor(ctx context.Context, cfg config.Config, id string) string {
	nc, js, err := pipeline.Connect(cfg, "photodesk-article")
	if err != nil {
		return ""
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, pipeline.GalleriesKV)
	if err != nil {
		return ""
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ": nothing of it has been seen"
	}
	if err != nil {
		return ""
	}
	var st gallery.State
	if json.Unmarshal(e.Value(), &st) != nil {
		return ""
	}
	rd := st.Evaluate()
	var parts []string
	for _, f := range rd.Failed {
		parts = append(parts, fmt.Sprintf("%s failed in %s: %s", f.Photo, f.Stage, f.Reason))
	}
	if len(rd.Waiting) > 0 {
		parts = append(parts, "waiting for "+strings.Join(rd.Waiting, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// runSubscribe is the reference newsroom subscriber: a durable consumer of
// article.ready and article.updated that prints each record and acks it,
// so a restart carries on where it stopped.
func runSubscribe(ctx context.Context, args []string) error {
	c := newCLI("subscribe")
	fs := c.fs
	durable := fs.String("durable", "newsroom", "durable consumer name: the subscription survives restarts")
	gallery := fs.String("gallery", "*", "only this gallery")
	full := fs.Bool("json", false, "print each whole event (with the ninjs record) as one JSON line")
	count := fs.Int("count", 0, "stop after this many records (0: run until Ctrl-C)")
	if err := c.parse(args); err != nil {
		return err
	}
	return subscribe(ctx, os.Stdout, c.cfg, *durable, *gallery, *full, *count)
}

// subscribe prints records from the durable consumer until count have
// come (0: until ctx ends), acking each once printed.
func subscribe(ctx context.Context, out io.Writer, cfg config.Config, durable, gallery string, full bool, count int) error {
	nc, js, err := pipeline.Connect(cfg, "photodesk-subscribe-"+durable)
	if err != nil {
		return err
	}
	defer nc.Close()
	cons, err := js.CreateOrUpdateConsumer(ctx, contract.EventsStream, jetstream.ConsumerConfig{
		Durable:        durable,
		Description:    "newsroom subscription to photodesk records",
		FilterSubjects: []string{contract.SubjectArticleReady + "." + gallery, contract.SubjectArticleUpdated + "." + gallery},
		AckPolicy:      jetstream.AckExplicitPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckWait:        30 * time.Second,
	})
	if err != nil {
		return err
	}
	seen := 0
	for count == 0 || seen < count {
		batch, err := cons.Fetch(min(10, max(count-seen, 1)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for msg := range batch.Messages() {
			var ev contract.ArticleEvent
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				_ = msg.Term()
				continue
			}
			if full {
				fmt.Fprintf(out, "%s\n", msg.Data())
			} else {
				var rec assembler.Ninjs
				_ = json.Unmarshal(ev.Record, &rec)
				headline := ""
				if len(rec.Headlines) > 0 {
					headline = rec.Headlines[0].Value
				}
				kind := strings.TrimPrefix(strings.TrimSuffix(msg.Subject(), "."+ev.Gallery), "photodesk.article.")
				fmt.Fprintf(out, "%s  %-7s %s v%d  %d photos  %s  (%s/%s)\n",
					ev.VersionCreated.Format(time.RFC3339), kind, ev.Gallery, ev.Version, ev.Photos, headline, ev.Bucket, ev.Key)
			}
			// Acked for sure before going on, so a restart resumes after it.
			if err := msg.DoubleAck(ctx); err != nil {
				return err
			}
			seen++
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}
