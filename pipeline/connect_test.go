package pipeline_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/photodesk/photodesk/pipeline"
)

// TestConnectWithCredentials: a token or a user and password reach a NATS
// server that requires them; no credentials, or wrong ones, do not.
func TestConnectWithCredentials(t *testing.T) {
	for name, opts := range map[string]*server.Options{
		"token": {Host: "127.0.0.1", Port: -1, Authorization: "s3cret-token"},
		"user":  {Host: "127.0.0.1", Port: -1, Username: "photodesk", Password: "s3cret-pass"},
	} {
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(5 * time.Second) {
			t.Fatal("NATS not ready")
		}
		cfg := pipeline.DefaultConfig()
		cfg.NATSURL = ns.ClientURL()
		if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil {
			nc.Close()
			t.Errorf("%s: connected without credentials", name)
		}
		bad := cfg
		bad.NATSToken, bad.NATSUser, bad.NATSPassword = "wrong", "", ""
		if name == "user" {
			bad.NATSToken, bad.NATSUser, bad.NATSPassword = "", "photodesk", "wrong"
		}
		if nc, _, err := pipeline.Connect(bad, t.Name()); err == nil {
			nc.Close()
			t.Errorf("%s: connected with wrong credentials", name)
		}
		good := cfg
		if name == "token" {
			good.NATSToken = "s3cret-token"
		} else {
			good.NATSUser, good.NATSPassword = "photodesk", "s3cret-pass"
		}
		if err := good.Validate(); err != nil {
			t.Fatal(err)
		}
		nc, _, err := pipeline.Connect(good, t.Name())
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else {
			nc.Close()
		}
		ns.Shutdown()
	}
	both := pipeline.DefaultConfig()
	both.NATSToken, both.NATSUser = "a", "b"
	if err := both.Validate(); err == nil {
		t.Error("two kinds of NATS credentials accepted")
	}
}
