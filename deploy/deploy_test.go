package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// The photodesk binary, built once for the package's tests (they need what
// the real binary reads, and some run it).
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "photodesk-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// photodesk builds the binary (once) and returns its path.
func photodesk(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "photodesk")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/photodesk/photodesk/cmd/photodesk").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// binaryFacts is what the binary says about itself in its help.
type binaryFacts struct {
	env   map[string]bool // every PHOTODESK_* variable of worker, api and setup
	roles []string        // the roles `worker --role` takes
}

var (
	factsOnce sync.Once
	facts     binaryFacts
	factsErr  error
)

var (
	envInHelp   = regexp.MustCompile(`\(env (PHOTODESK_[A-Z0-9_]+)\)`)
	rolesInHelp = regexp.MustCompile(`role\(s\) to run, comma separated: ([a-z, ]+) \(env PHOTODESK_ROLE\)`)
)

// binary reads the PHOTODESK_* variables and the roles from `photodesk
// <cmd> -h` of the commands a deployment runs.
func binary(t *testing.T) binaryFacts {
	t.Helper()
	bin := photodesk(t)
	factsOnce.Do(func() {
		facts.env = map[string]bool{}
		for _, cmd := range []string{"worker", "api", "setup", "health"} {
			out, err := exec.Command(bin, cmd, "-h").CombinedOutput()
			if err != nil {
				factsErr = fmt.Errorf("photodesk %s -h: %v\n%s", cmd, err, out)
				return
			}
			for _, m := range envInHelp.FindAllStringSubmatch(string(out), -1) {
				facts.env[m[1]] = true
			}
			if cmd == "worker" {
				m := rolesInHelp.FindStringSubmatch(string(out))
				if m == nil {
					factsErr = fmt.Errorf("photodesk worker -h names no roles:\n%s", out)
					return
				}
				for _, r := range strings.Split(m[1], ",") {
					facts.roles = append(facts.roles, strings.TrimSpace(r))
				}
			}
		}
	})
	if factsErr != nil {
		t.Fatal(factsErr)
	}
	if len(facts.env) < 20 || len(facts.roles) < 6 {
		t.Fatalf("the binary's help lists only %d variables and roles %v", len(facts.env), facts.roles)
	}
	return facts
}

// checkEnvKnown fails for every PHOTODESK_* name the binary does not read.
func checkEnvKnown(t *testing.T, where string, names []string) {
	t.Helper()
	known := binary(t).env
	for _, n := range names {
		if strings.HasPrefix(n, "PHOTODESK_") && !known[n] {
			t.Errorf("%s sets %s, which photodesk does not read (see photodesk worker|api|setup -h)", where, n)
		}
	}
}

// devstackMinIOEnv is the MinIO settings `photodesk dev` and the tests
// start MinIO with: devstack runs a stand-in "minio" that writes down its
// environment and exits.
func devstackMinIOEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "minio")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nenv > \"$0.env\"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := devstack.StartMinIO(context.Background(), devstack.MinIOOptions{
		Binary: fake, DataDir: filepath.Join(dir, "data"), QueueDir: filepath.Join(dir, "queue"),
		Addr: "127.0.0.1:0", AccessKey: "k", SecretKey: "s", NATSAddr: "127.0.0.1:4222",
	})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("the stand-in minio should have exited: %v", err)
	}
	b, err := os.ReadFile(fake + ".env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && (strings.HasPrefix(k, "MINIO_NOTIFY_") || k == "MINIO_BROWSER" || k == "MINIO_UPDATE" || k == "MINIO_API_SYNC_EVENTS" || k == "MINIO_SYNC_BOOT") {
			env[k] = v
		}
	}
	id := pipeline.NotifyTargetID
	if env["MINIO_NOTIFY_NATS_SUBJECT_"+id] != contract.S3EventsSubject || env["MINIO_NOTIFY_NATS_JETSTREAM_"+id] != "on" || env["MINIO_NOTIFY_NATS_QUEUE_DIR_"+id] == "" {
		t.Fatalf("devstack's MinIO settings are not what this test expects: %v", env)
	}
	return env
}

// checkMinIOEnv compares a deployment's MinIO settings with devstack's:
// the same notification target, subject, JetStream and queue limit; a NATS
// address on natsHost; a queue dir that is one of volumes (mount paths).
func checkMinIOEnv(t *testing.T, where string, got map[string]string, natsHost string, volumes []string) {
	t.Helper()
	want := devstackMinIOEnv(t)
	id := pipeline.NotifyTargetID
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: MinIO lacks %s (photodesk dev sets it to %q)", where, k, v)
		case k == "MINIO_NOTIFY_NATS_ADDRESS_"+id:
			host, port, err := net.SplitHostPort(g)
			if err != nil || host != natsHost || port != "4222" {
				t.Errorf("%s: %s=%q, want %s:4222", where, k, g, natsHost)
			}
		case k == "MINIO_NOTIFY_NATS_QUEUE_DIR_"+id:
			if !slices.Contains(volumes, g) {
				t.Errorf("%s: %s=%q is not on a volume (volumes at %v): queued events would not survive a restart", where, k, g, volumes)
			}
		case g != v:
			t.Errorf("%s: %s=%q, photodesk dev sets %q", where, k, g, v)
		}
	}
	if got["MINIO_NOTIFY_NATS_SUBJECT_"+id] != contract.S3EventsSubject {
		t.Errorf("%s: MinIO publishes on %q, the S3_EVENTS stream takes %q", where, got["MINIO_NOTIFY_NATS_SUBJECT_"+id], contract.S3EventsSubject)
	}
	for k := range got {
		if strings.HasPrefix(k, "MINIO_NOTIFY_NATS_") && !strings.HasSuffix(k, "_"+id) {
			t.Errorf("%s: %s is not for target %s, the one the bucket notification names", where, k, id)
		}
	}
	// photodesk api needs NATS with credentials, so MinIO has its own user.
	if got["MINIO_NOTIFY_NATS_USERNAME_"+id] == "" {
		t.Errorf("%s: MinIO's notification target has no NATS user", where)
	}
}

// loadCompose loads docker-compose.yml with the Compose specification's
// loader, with no environment: every ${VAR:-default} takes its default.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "docker-compose.yml")},
		cli.WithWorkingDirectory(".."), cli.WithInterpolation(true), cli.WithNormalization(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// env is a service's environment with every value set.
func env(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("service %s: %s has no value", s.Name, k)
			continue
		}
		out[k] = *v
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dockerfileEnv reads the ENV settings of deploy/Dockerfile's final stage.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ENV "); ok {
			for _, kv := range strings.Fields(rest) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					out[k] = v
				}
			}
		}
	}
	return out
}

// port is the port of a host:port or of a URL's host.
func port(t *testing.T, s string) string {
	t.Helper()
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[:j]
		}
	}
	_, p, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("no port in %q", s)
	}
	return p
}

// TestComposeFile loads docker-compose.yml as `docker compose` would and
// checks it against the binary: every role is a scalable service running
// `worker --role <role>` from deploy/Dockerfile, the init runs setup,
// start order and healthchecks are in place, and every PHOTODESK_* setting
// is one photodesk reads.
func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	b := binary(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opsPort := port(t, dockerfileEnv(t)["PHOTODESK_HTTP_ADDR"])
	for _, name := range append([]string{"nats", "minio", "init", "api"}, b.roles...) {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
		}
	}
	photodeskImage := func(s types.ServiceConfig) {
		t.Helper()
		if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("service %s does not build deploy/Dockerfile from the repository root: %+v", s.Name, s.Build)
		}
		if s.Image != p.Services["api"].Image || s.Image == "" {
			t.Errorf("service %s: image %q, the api's is %q: every photodesk service runs one image", s.Name, s.Image, p.Services["api"].Image)
		}
	}
	healthURL := func(s types.ServiceConfig) string {
		t.Helper()
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) != 5 || !slices.Equal(hc.Test[:4], []string{"CMD", "photodesk", "health", "--url"}) {
			t.Errorf("service %s: healthcheck %+v, want [CMD photodesk health --url URL]", s.Name, hc)
			return ""
		}
		return hc.Test[4]
	}
	afterInit := types.DependsOnConfig{
		"nats":  {Condition: types.ServiceConditionHealthy, Required: true},
		"minio": {Condition: types.ServiceConditionHealthy, Required: true},
		"init":  {Condition: types.ServiceConditionCompletedSuccessfully, Required: true},
	}
	for _, role := range b.roles {
		s, ok := p.Services[role]
		if !ok {
			continue
		}
		if want := []string{"worker", "--role", role}; !slices.Equal(s.Command, want) {
			t.Errorf("service %s runs %q, want %q", role, s.Command, want)
		}
		if s.ContainerName != "" || len(s.Ports) > 0 {
			t.Errorf("service %s has container_name %q or host ports %v: it could not be scaled", role, s.ContainerName, s.Ports)
		}
		photodeskImage(s)
		if u := healthURL(s); u != "" && (port(t, u) != opsPort || !strings.HasSuffix(u, "/readyz")) {
			t.Errorf("service %s: healthcheck %s, the image's ops port is %s (/readyz)", role, u, opsPort)
		}
		if fmt.Sprint(s.DependsOn) != fmt.Sprint(afterInit) {
			t.Errorf("service %s depends on %v, want %v", role, s.DependsOn, afterInit)
		}
	}

	init := p.Services["init"]
	photodeskImage(init)
	if len(init.Command) == 0 || init.Command[0] != "setup" || init.Restart != "no" || init.HealthCheck == nil || !init.HealthCheck.Disable {
		t.Errorf("init: command %q, restart %q, healthcheck %+v: want a one-shot setup with no healthcheck", init.Command, init.Restart, init.HealthCheck)
	}
	if fmt.Sprint(init.DependsOn) != fmt.Sprint(types.DependsOnConfig{"nats": afterInit["nats"], "minio": afterInit["minio"]}) {
		t.Errorf("init depends on %v, want healthy nats and minio", init.DependsOn)
	}

	api := p.Services["api"]
	photodeskImage(api)
	if !slices.Equal(api.Command, []string{"api"}) || fmt.Sprint(api.DependsOn) != fmt.Sprint(afterInit) {
		t.Errorf("api: command %q, depends on %v", api.Command, api.DependsOn)
	}
	apiPort := port(t, env(t, api)["PHOTODESK_API_ADDR"])
	if u := healthURL(api); u != "" && port(t, u) != apiPort {
		t.Errorf("api: healthcheck %s, the API listens on %s", u, apiPort)
	}
	if len(api.Ports) != 1 || api.Ports[0].Target != mustAtoi(t, apiPort) {
		t.Errorf("api publishes %v, the API listens on %s", api.Ports, apiPort)
	}

	for _, name := range []string{"nats", "minio"} {
		if hc := p.Services[name].HealthCheck; hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	nats := p.Services["nats"]
	var conf string
	for _, v := range nats.Volumes {
		if v.Target == "/etc/nats/nats.conf" {
			conf = v.Source
		}
	}
	if conf != filepath.Join(root, "deploy", "nats", "nats.conf") || !slices.Contains(nats.Command, "/etc/nats/nats.conf") {
		t.Errorf("nats: config %q mounted, command %q: want deploy/nats/nats.conf", conf, nats.Command)
	}

	minio := p.Services["minio"]
	var volumes []string
	for _, v := range minio.Volumes {
		if v.Type == types.VolumeTypeVolume {
			volumes = append(volumes, v.Target)
		}
	}
	checkMinIOEnv(t, "docker-compose.yml", env(t, minio), "nats", volumes)
	if me, pe := env(t, minio), env(t, api); me["MINIO_ROOT_USER"] != pe["PHOTODESK_S3_ACCESS_KEY"] || me["MINIO_ROOT_PASSWORD"] != pe["PHOTODESK_S3_SECRET_KEY"] {
		t.Errorf("MinIO's root keys are not the ones photodesk uses")
	}
	if want := "photodesk-minio:" + devstack.MinIOVersion; minio.Image != want {
		t.Errorf("minio image %q, want %q (the build photodesk is tested with)", minio.Image, want)
	}
	if want := "nats:" + natsServerMinor(t) + "-alpine"; nats.Image != want {
		t.Errorf("nats image %q, want %q (the nats-server photodesk is tested with)", nats.Image, want)
	}

	for _, s := range p.Services {
		checkEnvKnown(t, "docker-compose.yml service "+s.Name, keys(s.Environment))
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// natsServerMinor is "2.15" for the nats-server module in go.mod (the one
// photodesk dev embeds and these tests run).
func natsServerMinor(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\d+\.\d+)\.`).FindSubmatch(must(os.ReadFile("../go.mod")))
	if m == nil {
		t.Fatal("go.mod requires no nats-server")
	}
	return string(m[1])
}

// TestDockerfiles reads the image recipes: a Go builder with libvips-dev,
// a slim final stage with the libvips runtime, a non-root user, a
// healthcheck on the ops port through the binary, photodesk as entrypoint;
// the MinIO image builds the pinned MinIO.
func TestDockerfiles(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(must(os.ReadFile("../go.mod")))
	for _, want := range []string{
		"FROM golang:" + string(goLine[1]) + "-bookworm AS build",
		"libvips-dev",
		"CGO_ENABLED=1 go build",
		"FROM debian:bookworm-slim",
		"libvips42 ca-certificates",
		`HEALTHCHECK`,
		`CMD ["photodesk", "health", "--url", "http://127.0.0.1:` + port(t, dockerfileEnv(t)["PHOTODESK_HTTP_ADDR"]) + `/healthz"]`,
		`ENTRYPOINT ["photodesk"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("deploy/Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(df)
	if user == nil || user[1] == "0" {
		t.Errorf("deploy/Dockerfile does not run as a numeric non-root user: %v", user)
	}
	checkEnvKnown(t, "deploy/Dockerfile", keys(dockerfileEnv(t)))
	m, err := os.ReadFile("minio/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m), "ARG MINIO_VERSION="+devstack.MinIOVersion+"\n") || !strings.Contains(string(m), "go install github.com/minio/minio@${MINIO_VERSION}") {
		t.Errorf("deploy/minio/Dockerfile does not build MinIO %s", devstack.MinIOVersion)
	}
	if _, err := os.Stat("Dockerfile.dockerignore"); err != nil {
		t.Error(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
