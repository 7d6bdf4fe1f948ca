package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileFlag names the flag (and PHOTODESK_CONFIG the variable) of the
// optional config file.
const FileFlag = "config"

// FileSettings says what a config file did to one command's flags.
type FileSettings struct {
	Path string
	// Applied are the keys that set a flag.
	Applied []string
	// Overridden are keys of this command that a flag or variable beat.
	Overridden []string
	// Ignored are keys this command does not have: settings of other
	// commands, or misspellings (`photodesk config` lists them).
	Ignored []string
}

// envInUsage finds the variable a flag's usage names: every photodesk flag
// says "(env PHOTODESK_...)".
var envInUsage = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)

// ParseFlags parses args into fs, then fills every flag that neither args
// nor its PHOTODESK_* variable set from the config file named by --config
// (or PHOTODESK_CONFIG), if any. So the order is: flag, variable, file,
// default. The file is a YAML mapping of flag names to values; a list is
// joined with commas. One file can serve every command: keys a command does
// not have are ignored (and reported in the result).
func ParseFlags(fs *flag.FlagSet, args []string) (FileSettings, error) {
	if err := fs.Parse(args); err != nil {
		return FileSettings{}, err
	}
	f := fs.Lookup(FileFlag)
	if f == nil || f.Value.String() == "" {
		return FileSettings{}, nil
	}
	res := FileSettings{Path: f.Value.String()}
	settings, err := readConfigFile(res.Path)
	if err != nil {
		return res, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fl := fs.Lookup(k)
		switch {
		case k == FileFlag:
			return res, fmt.Errorf("%s: a config file cannot name another (%s)", res.Path, k)
		case fl == nil:
			res.Ignored = append(res.Ignored, k)
			continue
		case set[k] || envSet(fl):
			res.Overridden = append(res.Overridden, k)
			continue
		}
		if err := fs.Set(k, settings[k]); err != nil {
			return res, fmt.Errorf("%s: %s: %w", res.Path, k, err)
		}
		res.Applied = append(res.Applied, k)
	}
	return res, nil
}

// envSet reports whether the variable bound to f is set (non-empty, as the
// bindings read it).
func envSet(f *flag.Flag) bool {
	m := envInUsage.FindStringSubmatch(f.Usage)
	return m != nil && os.Getenv(m[1]) != ""
}

// readConfigFile reads a flat YAML mapping into flag values.
func readConfigFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := flagValue(v)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
		out[k] = s
	}
	return out, nil
}

func flagValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := flagValue(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q contains a comma; write the value as one string", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", errors.New("want a string, number, boolean or list of them")
}
