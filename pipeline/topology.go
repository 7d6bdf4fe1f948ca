package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/config"
)

// Resource is one thing photodesk keeps on JetStream: a stream, a durable
// consumer or a key-value bucket. Topology lists them all, so set-up
// (EnsureStreams), the health check (CheckStreams) and `photodesk setup`'s
// report walk the same list.
type Resource struct {
	Kind   string // "stream", "consumer" or "key-value"
	Name   string
	Detail string // what it is, in a line of `photodesk setup`'s report
	// Required: the pipeline cannot run without it, so CheckStreams
	// checks it. The buckets are not: every process makes them at start.
	Required bool
	// Unlisted: `photodesk setup` makes it without reporting it (the
	// processes bucket, which only `photodesk status` reads).
	Unlisted bool
	ensure   func(context.Context, jetstream.JetStream) error // create or update
	find     func(context.Context, jetstream.JetStream) error // look up
	missing  func(error) error                                // Check's error, when not the usual one
}

// Label is how set-up's report names r: its kind and name.
func (r Resource) Label() string { return r.Kind + " " + r.Name }

// what names r in errors.
func (r Resource) what() string {
	if r.Kind == "key-value" {
		return "key-value bucket " + r.Name
	}
	return r.Label()
}

// Ensure creates r or updates it to its configuration.
func (r Resource) Ensure(ctx context.Context, js jetstream.JetStream) error {
	if err := r.ensure(ctx, js); err != nil {
		return fmt.Errorf("%s: %w", r.what(), err)
	}
	return nil
}

// Check says why r is not there; nil when it is.
func (r Resource) Check(ctx context.Context, js jetstream.JetStream) error {
	err := r.find(ctx, js)
	switch {
	case err == nil:
		return nil
	case r.missing != nil:
		return r.missing(err)
	}
	return fmt.Errorf("%s: %w", r.what(), err)
}

// Topology is every resource photodesk keeps on JetStream, in the order
// they are made: the streams, then each role's consumer and gave-up
// consumer (which need their streams), then the key-value buckets.
func Topology(cfg config.Config) []Resource {
	var out []Resource
	for _, sc := range StreamConfigs(cfg) {
		out = append(out, Resource{
			Kind: "stream", Name: sc.Name, Required: true,
			Detail: fmt.Sprintf("subjects %s, replicas %d", strings.Join(sc.Subjects, " "), sc.Replicas),
			ensure: func(ctx context.Context, js jetstream.JetStream) error {
				return second(js.CreateOrUpdateStream(ctx, sc))
			},
			find: func(ctx context.Context, js jetstream.JetStream) error { return second(js.Stream(ctx, sc.Name)) },
		})
	}
	for _, spec := range Consumers {
		out = append(out,
			consumerResource(spec.Stream, ConsumerConfig(cfg, spec), func(err error) error {
				if errors.Is(err, jetstream.ErrConsumerNotFound) {
					return fmt.Errorf("consumer %s on stream %s does not exist", spec.Role, spec.Stream)
				}
				return fmt.Errorf("consumer %s: %w", spec.Role, err)
			}),
			consumerResource(AdvisoriesStream, GaveUpConsumerConfig(cfg, spec), func(err error) error {
				return fmt.Errorf("consumer %s on stream %s: %w", GaveUpConsumer(spec.Role), AdvisoriesStream, err)
			}))
	}
	galleries := bucketResource(GalleriesKVConfig(cfg))
	galleries.Detail = "the assembler's gallery state"
	processes := bucketResource(ProcessesKVConfig(cfg))
	processes.Detail, processes.Unlisted = "the processes running each role", true
	return append(out, galleries, processes)
}

// consumerResource is the durable consumer cc on stream; missing says why
// a lookup failed, for CheckStreams.
func consumerResource(stream string, cc jetstream.ConsumerConfig, missing func(error) error) Resource {
	return Resource{
		Kind: "consumer", Name: cc.Durable, Detail: "on stream " + stream, Required: true, missing: missing,
		ensure: func(ctx context.Context, js jetstream.JetStream) error {
			return second(js.CreateOrUpdateConsumer(ctx, stream, cc))
		},
		find: func(ctx context.Context, js jetstream.JetStream) error {
			return second(js.Consumer(ctx, stream, cc.Durable))
		},
	}
}

// bucketResource is the key-value bucket kc.
func bucketResource(kc jetstream.KeyValueConfig) Resource {
	return Resource{
		Kind: "key-value", Name: kc.Bucket,
		ensure: func(ctx context.Context, js jetstream.JetStream) error {
			return second(js.CreateOrUpdateKeyValue(ctx, kc))
		},
		find: func(ctx context.Context, js jetstream.JetStream) error { return second(js.KeyValue(ctx, kc.Bucket)) },
	}
}

// second is a call's error, the handle it returns unused.
func second[T any](_ T, err error) error { return err }

// EnsureStreams creates or updates the streams, every role's consumers and
// the key-value buckets. Safe to run from every process at every start.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg config.Config) error {
	for _, r := range Topology(cfg) {
		if err := r.Ensure(ctx, js); err != nil {
			return err
		}
	}
	return nil
}

// CheckStreams reports the first stream or consumer that is missing.
func CheckStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, r := range Topology(config.Default()) {
		if !r.Required {
			continue
		}
		if err := r.Check(ctx, js); err != nil {
			return err
		}
	}
	return nil
}
