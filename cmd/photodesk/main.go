// Command photodesk is the one binary of the photodesk pipeline: every role,
// the dev stack, and the photographers' and operators' commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

var commands = []command{
	{"dev", "run NATS, MinIO and every role in one process, for development", runDev},
	{"cluster", "run 3 NATS and 4 MinIO servers in network namespaces and workers with replicas 3 (root; for tests)", runCluster},
	{"worker", "run one or more roles against a running NATS and S3", runWorker},
	{"api", "serve the HTTP API (/v1) against a running NATS and S3", runAPI},
	{"upload", "upload a gallery (a folder, or files) to the originals bucket", runUpload},
	{"watch", "print a gallery's photos as every stage finishes them", runWatch},
	{"article", "print a gallery's current record (ninjs JSON)", runArticle},
	{"subscribe", "follow published records as a newsroom system would", runSubscribe},
	{"health", "exit 0 when NATS, S3, the streams and the consumers are up", runHealth},
	{"config", "print the effective configuration, secrets masked", runConfig},
	{"setup", "create the buckets, bucket notification, streams and consumers, then exit", runSetup},
	{"status", "print every role's consumer, recent failures and galleries in progress", runStatus},
	{"reprocess", "re-run roles on a gallery's (or every) existing originals", runReprocess},
}

// errUsage makes main print usage and exit 2.
var errUsage = errors.New("usage")

func main() {
	// The binary is also a NATS server for `photodesk cluster`'s nodes
	// (devstack.NATSChild starts it so); otherwise this returns at once.
	devstack.ServeNATSChild()
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "photodesk %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "photodesk: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "photodesk: the photo desk of a newsroom, as an event-driven pipeline.\n\nUsage: photodesk <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'photodesk <command> -h' for a command's flags. Every flag can also be set by its PHOTODESK_* variable.")
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
