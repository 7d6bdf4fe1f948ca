package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// waitArticle follows a gallery from since until its article is published
// (nil), or it is held or its manifest fails (an error with the reasons).
func waitArticle(ctx context.Context, out io.Writer, cfg config.Config, gallery string, since time.Time, timeout time.Duration) error {
	nc, js, err := pipeline.Connect(cfg, "photodesk-upload-wait")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{
			contract.GallerySubject(contract.SubjectArticleReady, gallery),
			contract.GallerySubject(contract.SubjectArticleUpdated, gallery),
			contract.GallerySubject(contract.SubjectGalleryHeld, gallery),
			contract.FailedSubject("assembler", gallery),
		},
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &since,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "waiting for gallery %s's article (up to %s)…\n", gallery, timeout)
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("no article for gallery %s within %s%s", gallery, timeout, waitingFor(context.Background(), cfg, gallery))
			}
			return err
		}
		subj := msg.Subject()
		switch {
		case strings.HasPrefix(subj, contract.SubjectGalleryHeld+"."):
			var h contract.GalleryHeld
			if err := contract.Decode(subj, msg.Data(), &h); err != nil {
				return err
			}
			for _, f := range h.Failed {
				fmt.Fprintf(out, "failed   %s in %s: %s\n", f.Photo, f.Stage, f.Reason)
			}
			return fmt.Errorf("gallery %s is held: %d photo(s) failed; upload them again, or leave them out of gallery.json", gallery, len(h.Failed))
		case strings.HasPrefix(subj, contract.SubjectFailed+"."):
			var f contract.Failure
			if err := contract.Decode(subj, msg.Data(), &f); err != nil {
				return err
			}
			fmt.Fprintf(out, "failed   %s: %s\n", contract.ManifestName, f.Reason)
			return errors.New("the gallery's manifest was refused; fix gallery.json and upload it again")
		default:
			var ev contract.ArticleEvent
			if err := contract.Decode(subj, msg.Data(), &ev); err != nil {
				return err
			}
			fmt.Fprintf(out, "article ready: gallery %s version %d, %d photos\n  record   s3://%s/%s\n  preview  s3://%s/%s\n", ev.Gallery, ev.Version, ev.Photos, ev.Bucket, ev.Key, ev.Bucket, ev.PreviewKey)
			return nil
		}
	}
}
