package pipeline

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// ConsumerSpec is one role's durable consumer: every process of the role
// binds to it, so adding processes shares the work.
type ConsumerSpec struct {
	Role    string
	Stream  string
	Filters []string
}

// Consumers is every stage's durable consumer, read off the stage table
// (contract.Stages), so set-up, health checks, status and the runtime agree.
var Consumers = consumersOf(contract.Stages)

func consumersOf(stages []contract.Stage) []ConsumerSpec {
	out := make([]ConsumerSpec, len(stages))
	for i, s := range stages {
		out[i] = ConsumerSpec{Role: s.Name, Stream: s.Stream, Filters: s.Inputs}
	}
	return out
}

// ConsumerFor returns the spec of role.
func ConsumerFor(role string) (ConsumerSpec, error) {
	for _, c := range Consumers {
		if c.Role == role {
			return c, nil
		}
	}
	return ConsumerSpec{}, fmt.Errorf("unknown role %q", role)
}

// Connect dials NATS with reconnects that never give up: a worker outlives
// a NATS restart.
func Connect(cfg config.Config, name string) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
	}
	switch {
	case cfg.NATSCreds != "":
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	case cfg.NATSNKey != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NATSNKey)
		if err != nil {
			return nil, nil, fmt.Errorf("NATS NKey seed %s: %w", cfg.NATSNKey, err)
		}
		opts = append(opts, o)
	case cfg.NATSToken != "":
		opts = append(opts, nats.Token(cfg.NATSToken))
	case cfg.NATSUser != "":
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// StreamConfigs are photodesk's streams.
func StreamConfigs(cfg config.Config) []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        contract.S3EventsStream,
			Description: "MinIO bucket notifications for the originals bucket",
			Subjects:    []string{contract.S3EventsSubject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.S3EventsMaxAge,
			Duplicates:  cfg.DuplicateWindow,
			Replicas:    cfg.Replicas,
		},
		{
			Name:        contract.EventsStream,
			Description: "photodesk pipeline events",
			Subjects:    contract.EventsSubjects,
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.EventsMaxAge,
			MaxBytes:    maxBytes(cfg.EventsMaxBytes),
			Duplicates:  cfg.DuplicateWindow,
			Replicas:    cfg.Replicas,
			// Scheduled galleries: the assembler's message schedules,
			// kept past MaxAge with a per-message TTL of "never".
			AllowMsgSchedules: true,
			AllowMsgTTL:       true,
		},
		{
			Name:        AdvisoriesStream,
			Description: "JetStream's max-deliveries advisories for the roles' consumers",
			Subjects:    advisorySubjects(),
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.EventsMaxAge,
			Replicas:    cfg.Replicas,
		},
	}
}

// AdvisoriesStream keeps the advisories JetStream publishes when it stops
// delivering a message of a role's consumer (MaxDeliver reached while a
// process held it: the process died or stalled). The server publishes
// them once, to no one in particular; in a stream they outlive every
// process, and each role's gave-up consumer turns its own into failure
// events (Runtime.Run).
const AdvisoriesStream = "PHOTODESK_ADVISORIES"

// MaxDeliveriesSubject is where JetStream announces that consumer on
// stream gave up on a message.
func MaxDeliveriesSubject(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// GaveUpConsumer names the durable consumer of role's max-deliveries
// advisories, shared by every process of the role.
func GaveUpConsumer(role string) string { return role + "-gave-up" }

func advisorySubjects() []string {
	var subs []string
	for _, c := range Consumers {
		subs = append(subs, MaxDeliveriesSubject(c.Stream, c.Role))
	}
	return subs
}

// GaveUpConsumerConfig is the durable consumer of spec's advisories. It
// never stops redelivering: an advisory is the only trace of the message.
func GaveUpConsumerConfig(cfg config.Config, spec ConsumerSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       GaveUpConsumer(spec.Role),
		Description:   "photodesk " + spec.Role + " role: messages JetStream gave up on",
		FilterSubject: MaxDeliveriesSubject(spec.Stream, spec.Role),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      cfg.Replicas,
	}
}

// maxBytes maps "no cap" (0) to JetStream's -1.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// ConsumerConfig is the durable pull consumer of spec.
func ConsumerConfig(cfg config.Config, spec ConsumerSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        spec.Role,
		Description:    "photodesk " + spec.Role + " role",
		FilterSubjects: spec.Filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     cfg.MaxDeliver,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxAckPending:  1000,
		Replicas:       cfg.Replicas,
	}
}

// GalleriesKV is the KeyValue bucket of the assembler's per-gallery state,
// keyed by gallery id.
const GalleriesKV = "PHOTODESK_GALLERIES"

// GalleriesKVConfig is GalleriesKV's configuration.
func GalleriesKVConfig(cfg config.Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      GalleriesKV,
		Description: "photodesk assembler: state of each gallery",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	}
}
