package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/photodesk/photodesk/pipeline/config"
)

// secretFlag names the settings printed masked.
var secretFlag = regexp.MustCompile(`secret|password|token|creds|webhooks`)

// runConfig prints the effective configuration, every setting a worker,
// dev or api process would use, from flags and PHOTODESK_* variables, with
// secrets masked, then says whether it is valid.
func runConfig(_ context.Context, args []string) error {
	c := newCLI("config").withRoles().withTracing()
	fs, cfg, rc, tc := c.fs, &c.cfg, c.rc, c.tc
	var a apiFlags
	a.register(fs, "127.0.0.1:8088")
	// The file's report is printed: this command reads it itself.
	file, err := config.ParseFlags(fs, args)
	if err != nil {
		return err
	}
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if secretFlag.MatchString(f.Name) && v != "" && !strings.Contains(v, "***") {
			v = mask(v)
		} else if u, err := url.Parse(v); err == nil && u.User != nil {
			v = u.Redacted() // a URL's password (a time-stamp authority's, say)
		}
		fmt.Fprintf(stdout, "%-28s %s\n", f.Name, v)
	})
	if file.Path != "" {
		fmt.Fprintf(stdout, "# from %s: %s\n", file.Path, orNone(file.Applied))
		if len(file.Overridden) > 0 {
			fmt.Fprintf(stdout, "# overridden by flags or PHOTODESK_* variables: %s\n", strings.Join(file.Overridden, ", "))
		}
		if len(file.Ignored) > 0 {
			// Settings of other commands (upload, say) or misspellings.
			fmt.Fprintf(stdout, "# not settings of worker, dev or api: %s\n", strings.Join(file.Ignored, ", "))
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid: %w", err)
	}
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("invalid: %w", err)
	}
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("invalid: %w", err)
	}
	fmt.Fprintln(stdout, "# valid")
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// mask keeps a hint of a secret (its length) and nothing of its value.
func mask(v string) string {
	return fmt.Sprintf("*** (%d characters)", len(v))
}
