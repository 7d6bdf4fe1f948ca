package main

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/photodesk/photodesk/pipeline"
)

// secretFlag names the settings printed masked.
var secretFlag = regexp.MustCompile(`secret|password|token|creds|webhooks`)

// runConfig prints the effective configuration, every setting a worker,
// dev or api process would use, from flags and PHOTODESK_* variables, with
// secrets masked, then says whether it is valid.
func runConfig(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	cfg := pipeline.DefaultConfig()
	cfg.RegisterFlags(fs)
	rc := defaultRoleConfig()
	rc.RegisterFlags(fs)
	var a apiFlags
	a.register(fs, "127.0.0.1:8088")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if secretFlag.MatchString(f.Name) && v != "" && !strings.Contains(v, "***") {
			v = mask(v)
		}
		fmt.Fprintf(stdout, "%-28s %s\n", f.Name, v)
	})
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid: %w", err)
	}
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("invalid: %w", err)
	}
	fmt.Fprintln(stdout, "# valid")
	return nil
}

// mask keeps a hint of a secret (its length) and nothing of its value.
func mask(v string) string {
	return fmt.Sprintf("*** (%d characters)", len(v))
}
