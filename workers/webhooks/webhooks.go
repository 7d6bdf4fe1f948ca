// Package webhooks is the webhooks role: it delivers article.ready and
// article.updated to newsroom systems that do not speak NATS, as signed
// HTTP POSTs. Each configured endpoint has its own durable JetStream
// consumer holding one event at a time, and a failed delivery is retried
// with capped exponential back-off until the endpoint takes it, so an
// endpoint that is down for an hour gets every event afterwards, in order.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Role is the name of the role.
const Role = "webhooks"

// Request headers besides SignatureHeader.
const (
	EventHeader    = "Photodesk-Event"    // article.ready or article.updated
	DeliveryHeader = "Photodesk-Delivery" // the event's PHOTODESK stream sequence: an idempotency key
	EventIDHeader  = "Photodesk-Event-Id" // the event's Nats-Msg-Id, article:<gallery>:v<N>
	AttemptHeader  = "Photodesk-Attempt"  // 1 on this process's first try of this delivery
)

// Subjects are the events every endpoint receives.
var Subjects = []string{contract.SubjectArticleReady + ".>", contract.SubjectArticleUpdated + ".>"}

// ConsumerName is the durable consumer of endpoint name on the PHOTODESK
// stream.
func ConsumerName(name string) string { return "webhook-" + name }

// Consumers is what the role needs of JetStream: its endpoints' durable
// consumers, made or bound.
type Consumers interface {
	Consumer(ctx context.Context, stream, name string) (jetstream.Consumer, error)
	CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error)
}

// Deliverer runs the role: one delivery loop per endpoint.
type Deliverer struct {
	JS Consumers
	// Pipeline gives AckWait (how often a held event is kept alive) and
	// Replicas of the consumers.
	Pipeline config.Config
	Cfg      Config
	Log      *slog.Logger
	// PollWait is how long one pull waits for an event (default 5s).
	PollWait time.Duration
	// Client sends the requests; by default one that follows no redirects.
	Client *http.Client
	// Now is the clock of the signatures (default time.Now).
	Now func() time.Time
}

func (d *Deliverer) defaults() {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.PollWait == 0 {
		d.PollWait = 5 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Client == nil {
		d.Client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirected POST loses its body or changes method, and could
			// carry the record somewhere else: a 3xx is a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
}

// ConsumerConfig is endpoint e's durable consumer: both article subjects,
// one event in flight at a time (strict order), never given up on.
func (d *Deliverer) ConsumerConfig(e Endpoint) jetstream.ConsumerConfig {
	policy := jetstream.DeliverNewPolicy
	if d.Cfg.Start == StartAll {
		policy = jetstream.DeliverAllPolicy
	}
	return jetstream.ConsumerConfig{
		Durable:        ConsumerName(e.Name),
		Description:    "photodesk webhooks: deliveries to endpoint " + e.Name,
		FilterSubjects: Subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        d.Pipeline.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  1,
		DeliverPolicy:  policy,
		Replicas:       d.Pipeline.Replicas,
	}
}

// Ensure creates or updates every endpoint's consumer. An existing consumer
// keeps where it started (Start applies to new endpoints only) and its
// place in the stream.
func (d *Deliverer) Ensure(ctx context.Context) (map[string]jetstream.Consumer, error) {
	d.defaults()
	out := map[string]jetstream.Consumer{}
	for _, e := range d.Cfg.Endpoints {
		cc := d.ConsumerConfig(e)
		if c, err := d.JS.Consumer(ctx, contract.EventsStream, cc.Durable); err == nil {
			old := c.CachedInfo().Config
			cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("webhook consumer %s: %w", cc.Durable, err)
		}
		c, err := d.JS.CreateOrUpdateConsumer(ctx, contract.EventsStream, cc)
		if err != nil {
			return nil, fmt.Errorf("webhook consumer %s: %w", cc.Durable, err)
		}
		out[e.Name] = c
	}
	return out, nil
}

// Run delivers until ctx ends. An in-flight request is allowed to finish
// (within Timeout) and acked if it succeeded; an event waiting for its next
// attempt is released at once. With no endpoints configured it says so and
// waits for ctx, so `photodesk dev` and a supervisor see a healthy role.
func (d *Deliverer) Run(ctx context.Context) error {
	d.defaults()
	log := d.Log.With("role", Role)
	if len(d.Cfg.Endpoints) == 0 {
		log.Info("no webhook endpoints configured (--webhooks or " + EnvEndpoints + "): the webhooks role has nothing to do")
		<-ctx.Done()
		return nil
	}
	cons, err := d.Ensure(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, e := range d.Cfg.Endpoints {
		elog := log.With("endpoint", e.Name)
		if e.Insecure() {
			elog.Warn("webhook endpoint uses plain http beyond this machine: records and signatures travel unencrypted", "url", redactURL(e.URL))
		}
		elog.Info("webhooks started", "url", redactURL(e.URL), "key_id", e.KeyID, "consumer", ConsumerName(e.Name))
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serve(ctx, elog, e, cons[e.Name])
		}()
	}
	wg.Wait()
	log.Info("webhooks stopped")
	return nil
}

// serve pulls endpoint e's events one at a time and delivers each.
func (d *Deliverer) serve(ctx context.Context, log *slog.Logger, e Endpoint, cons jetstream.Consumer) {
	ackWait := cons.CachedInfo().Config.AckWait
	pipeline.Pull(ctx, cons, pipeline.PullOptions{Wait: d.PollWait, Log: log}, func(jm jetstream.Msg) {
		d.deliver(ctx, log, e, jm, ackWait)
	})
}

// deliver POSTs one event until the endpoint takes it, then acks it; at
// shutdown it releases it instead.
func (d *Deliverer) deliver(ctx context.Context, log *slog.Logger, e Endpoint, jm jetstream.Msg, ackWait time.Duration) {
	md, err := jm.Metadata()
	if err != nil {
		log.Error("message without JetStream metadata; terminating it", "subject", jm.Subject(), "err", err)
		_ = jm.Term()
		return
	}
	seq := md.Sequence.Stream
	subject := jm.Subject()
	log = log.With("gallery", subject[strings.LastIndexByte(subject, '.')+1:], "seq", seq, "subject", subject)
	// InProgress through any number of retries; a dead process stops
	// telling and the event goes to another process of the same endpoint.
	stop := pipeline.KeepAlive(jm, ackWait)
	defer stop()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			log.Info("released at shutdown", "attempts", attempt-1)
			_ = jm.Nak()
			return
		}
		res := d.post(ctx, e, jm, seq, attempt)
		if res.delivered() {
			stop()
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := jm.DoubleAck(actx)
			cancel()
			if err != nil {
				log.Warn("delivered but the ack failed: the endpoint will get this event again (same "+DeliveryHeader+")", "err", err)
				return
			}
			log.Info("delivered", "status", res.status, "attempts", attempt, "took", time.Since(start).Round(time.Millisecond))
			return
		}
		wait := d.backoff(attempt, res.retryAfter)
		args := []any{"attempt", attempt, "retry_in", wait}
		if res.err != nil {
			args = append(args, "err", res.err)
		} else {
			args = append(args, "status", res.status, "response", res.snippet)
		}
		switch {
		case res.refused():
			// Most likely a wrong URL, key or secret on one side: an
			// operator must look. The event is kept, so nothing is lost
			// once it is fixed.
			log.Error("endpoint refuses the delivery; check its URL, key id and secret. Retrying anyway, later events wait behind this one", args...)
		case res.status >= 300 && res.status < 400:
			log.Error("endpoint redirects; redirects are not followed, configure the final URL. Retrying anyway", append(args, "location", res.location)...)
		default:
			log.Warn("delivery failed; will retry", args...)
		}
		if !sleep(ctx, wait) {
			log.Info("released at shutdown", "attempts", attempt)
			_ = jm.Nak()
			return
		}
	}
}

type result struct {
	status     int
	err        error
	retryAfter time.Duration
	snippet    string
	location   string
}

func (r result) delivered() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// refused: a 4xx that is not about timing or load.
func (r result) refused() bool {
	return r.err == nil && r.status >= 400 && r.status < 500 &&
		r.status != http.StatusRequestTimeout && r.status != http.StatusTooManyRequests
}

// post makes one attempt. The request outlives ctx (within Timeout), so a
// shutdown never cuts off a delivery the endpoint may already be taking.
func (d *Deliverer) post(ctx context.Context, e Endpoint, jm jetstream.Msg, seq uint64, attempt int) result {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.Cfg.Timeout)
	defer cancel()
	body := jm.Data()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "photodesk-webhooks/1")
	req.Header.Set(EventHeader, EventName(jm.Subject()))
	req.Header.Set(DeliveryHeader, strconv.FormatUint(seq, 10))
	if id := jm.Headers().Get(nats.MsgIdHdr); id != "" {
		req.Header.Set(EventIDHeader, id)
	}
	req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(SignatureHeader, Sign(e.KeyID, e.Secret, d.Now(), body))
	resp, err := d.Client.Do(req)
	if err != nil {
		// url.Error names the URL; keep any password in it out of logs.
		return result{err: errors.New(strings.ReplaceAll(err.Error(), e.URL, redactURL(e.URL)))}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	return result{
		status:     resp.StatusCode,
		retryAfter: retryAfter(resp.Header.Get("Retry-After"), d.Now()),
		snippet:    contract.Clip(strings.TrimSpace(string(head)), 200),
		location:   resp.Header.Get("Location"),
	}
}

// EventName is article.ready or article.updated for an event's subject.
func EventName(subject string) string {
	tok := strings.Split(subject, ".")
	if len(tok) >= 3 {
		return tok[1] + "." + tok[2]
	}
	return subject
}

// backoff is the wait after failed attempt n: MinBackoff doubled n-1
// times, at least what Retry-After asked for, at most MaxBackoff.
func (d *Deliverer) backoff(attempt int, retryAfter time.Duration) time.Duration {
	w := d.Cfg.MinBackoff
	for i := 1; i < attempt && w < d.Cfg.MaxBackoff; i++ {
		w *= 2
	}
	w = max(w, retryAfter)
	return min(w, d.Cfg.MaxBackoff)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
