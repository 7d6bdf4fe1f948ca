package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
)

// healthOptions are photodesk health's own flags.
type healthOptions struct {
	wait   time.Duration // keep trying this long
	target string        // a URL to GET instead of checking the pipeline
}

func (o *healthOptions) register(fs *flag.FlagSet) {
	fs.DurationVar(&o.wait, "wait", 0, "keep trying this long before giving up (0: one try)")
	fs.StringVar(&o.target, "url", "", "instead, GET this URL (a worker's http://127.0.0.1:8080/readyz, say) and exit 0 on a 2xx answer: a container healthcheck for images without curl")
}

func runHealth(ctx context.Context, args []string) error {
	var o healthOptions
	c := newCLI("health")
	o.register(c.fs)
	if err := c.parse(args); err != nil {
		return err
	}
	check, ok := func(ctx context.Context) error { return checkOnce(ctx, c.cfg) }, "ok: NATS, JetStream streams and consumers, S3 buckets and notification are up"
	if o.target != "" {
		u, err := url.Parse(o.target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--url %q: want an http:// or https:// URL", o.target)
		}
		check, ok = func(ctx context.Context) error { return getOK(ctx, o.target) }, "ok: "+o.target
	}
	deadline := time.Now().Add(o.wait)
	for {
		err := check(ctx)
		if err == nil {
			fmt.Fprintln(stdout, ok)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not healthy: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// getOK GETs target and wants a 2xx answer. It follows no redirects: a
// health endpoint that redirects is not the one meant.
func getOK(ctx context.Context, target string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	msg := strings.TrimSpace(string(body))
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("GET %s: %s%s", target, resp.Status, msg)
}

func checkOnce(ctx context.Context, cfg config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nc, js, store, err := connectAll(cfg, "health")
	if err != nil {
		return err
	}
	defer nc.Close()
	return pipeline.Check(ctx, js, store)
}
