package deploy_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestComposeSettingsOnRealServers runs docker-compose.yml's settings on
// real servers, without Docker: NATS from deploy/nats/nats.conf with the
// nats service's environment, MinIO with the minio service's notification
// settings (its own NATS user), then the real binary with each service's
// environment: the init's setup, which proves the trigger through MinIO's
// NATS user, the API (which refuses dev credentials) and a worker, each
// answering the healthcheck its service declares. Only the addresses are
// this machine's.
func TestComposeSettingsOnRealServers(t *testing.T) {
	p := loadCompose(t)
	bin := photodesk(t)

	for k, v := range env(t, p.Services["nats"]) {
		t.Setenv(k, v) // nats.conf reads the passwords from the environment
	}
	opts, err := server.ProcessConfigFile("nats/nats.conf")
	if err != nil {
		t.Fatalf("deploy/nats/nats.conf: %v", err)
	}
	opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT, "127.0.0.1", server.RANDOM_PORT
	opts.StoreDir, opts.NoSigs = t.TempDir(), true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(15 * time.Second) {
		t.Fatal("NATS with deploy/nats/nats.conf did not start")
	}

	me := env(t, p.Services["minio"])
	for k, v := range me {
		if strings.HasPrefix(k, "MINIO_NOTIFY_NATS_") {
			t.Setenv(k, v) // the MinIO child inherits them; devstack's own address and queue dir win
		}
	}
	dir := t.TempDir()
	m, err := devstack.StartMinIO(context.Background(), devstack.MinIOOptions{
		DataDir: filepath.Join(dir, "minio"), QueueDir: filepath.Join(dir, "queue"), Addr: "127.0.0.1:0",
		AccessKey: me["MINIO_ROOT_USER"], SecretKey: me["MINIO_ROOT_PASSWORD"], NATSAddr: ns.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })

	image := dockerfileEnv(t)
	// environ is service s's environment in a container of the image, with
	// this machine's addresses for NATS, MinIO and the listeners.
	environ := func(s types.ServiceConfig, listen map[string]string) []string {
		e := env(t, s)
		if e["PHOTODESK_NATS_URL"] != "nats://nats:4222" || e["PHOTODESK_S3_ENDPOINT"] != "minio:9000" {
			t.Fatalf("service %s reaches NATS at %q and S3 at %q, not the nats and minio services", s.Name, e["PHOTODESK_NATS_URL"], e["PHOTODESK_S3_ENDPOINT"])
		}
		e["PHOTODESK_NATS_URL"], e["PHOTODESK_S3_ENDPOINT"] = "nats://"+ns.Addr().String(), m.Endpoint
		out := []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		for k, v := range image {
			if _, ok := e[k]; !ok {
				e[k] = v
			}
		}
		for k, v := range listen {
			e[k] = v
		}
		for k, v := range e {
			out = append(out, k+"="+v)
		}
		return out
	}
	// healthcheck runs service s's healthcheck command against addr,
	// waiting for the service to come up.
	healthcheck := func(s types.ServiceConfig, addr string) {
		t.Helper()
		test := s.HealthCheck.Test // CMD photodesk health --url URL
		u := strings.Replace(test[4], "127.0.0.1:"+port(t, test[4]), addr, 1)
		out, err := exec.Command(bin, test[2], test[3], u, "--wait", "30s").CombinedOutput()
		if err != nil {
			t.Errorf("service %s's healthcheck on %s: %v\n%s", s.Name, u, err, out)
		}
	}
	start := func(s types.ServiceConfig, listen map[string]string) *bytes.Buffer {
		t.Helper()
		var logs bytes.Buffer
		cmd := exec.Command(bin, s.Command...)
		cmd.Env, cmd.Stdout, cmd.Stderr = environ(s, listen), &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("service %s's log:\n%s", s.Name, logs.String())
			}
		})
		return &logs
	}

	initSvc := p.Services["init"]
	cmd := exec.Command(bin, initSvc.Command...)
	cmd.Env = environ(initSvc, nil)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "proven: a canary upload reached stream S3_EVENTS") {
		t.Fatalf("init (%q): %v\n%s", initSvc.Command, err, out)
	}

	api := p.Services["api"]
	apiAddr := freeAddr(t)
	start(api, map[string]string{"PHOTODESK_API_ADDR": apiAddr})
	healthcheck(api, apiAddr)

	ingest := p.Services["ingest"]
	opsAddr := freeAddr(t)
	start(ingest, map[string]string{"PHOTODESK_HTTP_ADDR": opsAddr})
	healthcheck(ingest, opsAddr)
}
