package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/config"
)

// ProcessesKV is the KeyValue bucket where every worker process keeps a key
// per role it runs, so `photodesk status` can say how many processes each
// role's consumer has: JetStream's consumer info does not list its clients.
// Keys expire PresenceTTL after their last refresh, so a killed process
// drops out on its own; a process that stops cleanly deletes its keys.
const ProcessesKV = "PHOTODESK_PROCESSES"

// PresenceTTL is how long a process's key outlives its last refresh; it is
// refreshed every third of that.
const PresenceTTL = 30 * time.Second

// ProcessesKVConfig is ProcessesKV's configuration.
func ProcessesKVConfig(cfg config.Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      ProcessesKV,
		Description: "photodesk: the processes running each role",
		History:     1,
		TTL:         PresenceTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	}
}

// Process is one process running one role, as it announces itself.
type Process struct {
	Role        string    `json:"role"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Started     time.Time `json:"started"`
	Concurrency int       `json:"concurrency"`
	Version     string    `json:"version"`
	// Seen is when the process last refreshed its key (from the entry).
	Seen time.Time `json:"seen,omitzero"`
}

// ThisProcess describes this process running role.
func ThisProcess(role string, concurrency int, started time.Time) Process {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return Process{Role: role, Host: host, PID: os.Getpid(), Started: started.UTC(), Concurrency: concurrency, Version: BuildVersion()}
}

// Key is p's key in ProcessesKV: <role>.<host>-<pid>, with any character a
// key cannot hold replaced.
func (p Process) Key() string {
	return keySafe(p.Role) + "." + keySafe(fmt.Sprintf("%s-%d", p.Host, p.PID))
}

func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// BuildVersion is the module version this binary was built as, or its
// VCS revision, or "devel".
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// Announce keeps p's key in ProcessesKV until ctx ends, then deletes it. A
// missing bucket (set up by an older version) or an unreachable NATS is
// logged once and tried again at the next refresh: presence is for
// operators, never a reason for a role to stop.
func Announce(ctx context.Context, js jetstream.JetStream, p Process, log *slog.Logger) {
	announce(ctx, js, ProcessesKV, PresenceTTL/3, p, log)
}

func announce(ctx context.Context, js jetstream.JetStream, bucket string, every time.Duration, p Process, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	key := p.Key()
	val, err := json.Marshal(p)
	if err != nil {
		log.Warn("presence: cannot encode", "err", err)
		return
	}
	var kv jetstream.KeyValue
	warned := false
	refresh := func() {
		rctx, cancel := context.WithTimeout(ctx, every)
		defer cancel()
		var err error
		if kv == nil {
			kv, err = js.KeyValue(rctx, bucket)
		}
		if err == nil {
			_, err = kv.Put(rctx, key, val)
		}
		switch {
		case err != nil && ctx.Err() == nil && !warned:
			log.Warn("presence: cannot announce this process; `photodesk status` will not count it", "bucket", bucket, "err", err)
			warned = true
		case err == nil && warned:
			log.Info("presence: announced again", "bucket", bucket)
			warned = false
		}
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv = nil
		}
	}
	refresh()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			refresh()
		case <-ctx.Done():
			if kv != nil {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
				_ = kv.Delete(dctx, key)
				cancel()
			}
			return
		}
	}
}

// ErrNoPresence says ProcessesKV does not exist (nothing set it up yet).
var ErrNoPresence = errors.New("no " + ProcessesKV + " bucket: run `photodesk setup` (or start a worker) with this version")

// Processes lists the processes whose keys are live, by key.
func Processes(ctx context.Context, js jetstream.JetStream) ([]Process, error) {
	return processes(ctx, js, ProcessesKV, PresenceTTL)
}

func processes(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration) ([]Process, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoPresence
	}
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", bucket, err)
	}
	entries, err := Entries(ctx, js, kv)
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range entries {
		var p Process
		// The bucket expires keys on its own; an entry it has not
		// removed yet is as gone.
		if json.Unmarshal(e.Value(), &p) != nil || time.Since(e.Created()) > ttl {
			continue
		}
		p.Seen = e.Created().UTC()
		out = append(out, p)
	}
	return out, nil
}
