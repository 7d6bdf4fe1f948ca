package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/photodesk/photodesk/api"
	"github.com/photodesk/photodesk/pipeline/config"
)

// apiFlags are the API's settings, shared by `api` and `dev`.
type apiFlags struct {
	addr      string
	tokens    string
	maxUpload int64
	// limits replace api.DefaultLimits when set (tests: short timeouts).
	limits *api.Limits
}

func (a *apiFlags) register(fs *flag.FlagSet, defAddr string) {
	a.addr, a.maxUpload = defAddr, 200<<20
	config.StringVar(fs, &a.addr, "api", "PHOTODESK_API_ADDR", "HTTP API listen address")
	config.StringVar(fs, &a.tokens, "api-tokens", "PHOTODESK_API_TOKENS", "API bearer tokens: name:role:token,... (role photographer or newsroom)")
	config.Int64Var(fs, &a.maxUpload, "max-upload", "PHOTODESK_MAX_UPLOAD", "largest photo the API accepts, in bytes")
}

// serveAPI starts the API on a.addr until ctx ends.
func serveAPI(ctx context.Context, a apiFlags, tokens []api.Token, cfg config.Config, log *slog.Logger) (net.Addr, func(), error) {
	nc, js, store, err := connectAll(cfg, "api")
	if err != nil {
		return nil, nil, err
	}
	srv, err := api.New(ctx, js, store, cfg, tokens, a.maxUpload, log)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("API: %w", err)
	}
	if a.limits != nil {
		srv.Limits = *a.limits
	}
	hs := srv.HTTPServer()
	go func() { _ = hs.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		nc.Close()
	}
	return ln.Addr(), stop, nil
}

// runAPI is `photodesk api`: the HTTP API against a running NATS and S3.
// It refuses to start without tokens or with MinIO's default credentials.
func runAPI(ctx context.Context, args []string) error {
	c := newCLI("api").withTracing()
	var a apiFlags
	a.register(c.fs, "127.0.0.1:8088")
	if err := c.parse(args, c.validate); err != nil {
		return err
	}
	cfg := c.cfg
	tokens, err := api.ParseTokens(a.tokens)
	if err != nil {
		return err
	}
	if err := productionChecks(cfg, tokens); err != nil {
		return err
	}
	log := newLogger(os.Stderr, slog.LevelInfo)
	stopTracing, err := c.startTracing(ctx, log, "api")
	if err != nil {
		return err
	}
	defer stopTracing()
	addr, stop, err := serveAPI(ctx, a, tokens, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	log.Info("API serving", "addr", addr.String(), "tokens", len(tokens))
	<-ctx.Done()
	return nil
}

// productionChecks refuses the settings only a dev machine may have.
func productionChecks(cfg config.Config, tokens []api.Token) error {
	var probs []string
	if len(tokens) == 0 {
		probs = append(probs, "no API tokens (--api-tokens name:role:token,...)")
	}
	for _, def := range [][2]string{{config.DevAccessKey, config.DevSecretKey}, {"minioadmin", "minioadmin"}} {
		if cfg.S3AccessKey == def[0] || cfg.S3SecretKey == def[1] {
			probs = append(probs, "S3 uses a default credential ("+def[0]+"); set --s3-access-key and --s3-secret-key")
		}
	}
	// NATS has no default account, only none: a production API must
	// authenticate to it (and nats:// URLs with user:password count).
	if !cfg.HasNATSCredentials() && !strings.Contains(cfg.NATSURL, "@") {
		probs = append(probs, "NATS without credentials (--nats-creds, --nats-token or --nats-user/--nats-password)")
	}
	if len(probs) > 0 {
		return errors.New("refusing to start: " + strings.Join(probs, "; ") + " (photodesk dev runs the API with dev settings)")
	}
	return nil
}

// devTokens makes one token of each role for `photodesk dev`.
func devTokens() []api.Token {
	random := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	return []api.Token{
		{Name: "dev-photographer", Role: api.RolePhotographer, Value: "pd-photographer-" + random()},
		{Name: "dev-newsroom", Role: api.RoleNewsroom, Value: "pd-newsroom-" + random()},
	}
}
