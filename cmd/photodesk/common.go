package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
)

// cli is how every command starts: its flag set with the pipeline's
// settings registered, read from flags, PHOTODESK_* variables and a
// --config file alike (config.ParseFlags). A command adds its own flags
// to fs, parses, and dials what it needs; it keeps the checks and the
// order of them it always had.
type cli struct {
	fs  *flag.FlagSet
	cfg config.Config
	rc  *roleConfig             // the roles' settings, withRoles
	tc  *pipeline.TracingConfig // the tracing settings, withTracing
}

func newCLI(name string) *cli {
	c := &cli{fs: flag.NewFlagSet(name, flag.ContinueOnError), cfg: config.Default()}
	c.cfg.RegisterFlags(c.fs)
	return c
}

// withRoles adds the roles' settings, for the commands that run roles.
func (c *cli) withRoles() *cli {
	rc := defaultRoleConfig()
	rc.RegisterFlags(c.fs)
	c.rc = &rc
	return c
}

// withTracing adds the OpenTelemetry settings.
func (c *cli) withTracing() *cli {
	c.tc = &pipeline.TracingConfig{}
	c.tc.RegisterFlags(c.fs)
	return c
}

// parse reads args, then runs checks in order (a command's own argument
// checks, c.validate), stopping at the first error.
func (c *cli) parse(args []string, checks ...func() error) error {
	if _, err := config.ParseFlags(c.fs, args); err != nil {
		return err
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the pipeline's settings, and the roles' when registered.
func (c *cli) validate() error {
	if err := c.cfg.Validate(); err != nil {
		return err
	}
	if c.rc != nil {
		return c.rc.Validate()
	}
	return nil
}

// startTracing sets up tracing for roles; stop flushes the spans still
// buffered (see flushTraces).
func (c *cli) startTracing(ctx context.Context, log *slog.Logger, roles ...string) (stop func(), err error) {
	shutdown, err := pipeline.SetupTracing(ctx, *c.tc, log, roles...)
	if err != nil {
		return nil, err
	}
	return func() { flushTraces(log, shutdown) }, nil
}

// connectAll dials NATS as photodesk-<who> and opens the S3 store; the
// caller closes the connection.
func connectAll(cfg config.Config, who string) (*nats.Conn, jetstream.JetStream, *pipeline.Store, error) {
	nc, js, err := pipeline.Connect(cfg, "photodesk-"+who)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return nc, js, store, nil
}

// flushTraces sends the spans still buffered as the process exits, giving
// up after a few seconds (an unreachable collector must not hold it).
func flushTraces(log *slog.Logger, shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Warn("tracing", "err", err)
	}
}
