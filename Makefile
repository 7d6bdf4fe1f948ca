# photodesk — `make demo` runs the whole pipeline on the sample gallery;
# `make test` runs every test. Both install what they need first.

MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
CACHE_HOME    := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)
MINIO_DIR     := $(CACHE_HOME)/photodesk/minio-$(MINIO_VERSION)
MINIO_BIN     := $(MINIO_DIR)/minio
export PHOTODESK_MINIO_BIN := $(MINIO_BIN)

# govulncheck, pinned and built once into the same cache as MinIO, checks
# the code against the offline copy of the Go vulnerability database that
# sits beside the project (../shared/vulndb; the public one is out of
# reach here and in CI). VULNDB= points elsewhere.
GOVULNCHECK_VERSION := v1.10.0
GOVULNCHECK_DIR     := $(CACHE_HOME)/photodesk/govulncheck-$(GOVULNCHECK_VERSION)
GOVULNCHECK_BIN     := $(GOVULNCHECK_DIR)/govulncheck
VULNDB              ?= $(abspath $(CURDIR)/../shared/vulndb)

# System packages: libvips for image work (cgo), its command-line tools as
# the benchmark's baseline, exiftool as the independent reference in EXIF
# tests, libgs-common for its Adobe RGB profile (a colour-managed input in
# the image tests), pkg-config for cgo flags, chromium for the upload page's
# browser test, iproute2 for the cluster's network namespaces (ip netns).
APT_PACKAGES := libvips-dev libvips-tools libimage-exiftool-perl libgs-common pkg-config chromium iproute2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Fuzz budgets are execution counts, not durations: with a duration, Go
# 1.26's fuzz coordinator can fail a clean run with "context deadline
# exceeded" as the time runs out (go.dev/issue/75804, fixed in Go 1.27).
FUZZ_SHORT ?= 100000x
FUZZTIME ?= 20000000x
GO_TEST_FLAGS ?=

.PHONY: all build deps minio govulncheck vulncheck c2pa-verifier test test-go fuzz-short fuzz demo vet clean bench bench-short chaos cluster

all: build

build:
	go build -o bin/photodesk ./cmd/photodesk

# deps installs the Debian packages that are missing (apt-get, with sudo
# where not root).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# c2pa-verifier installs the C2PA reference implementation (c2pa-rs as
# WebAssembly, pinned in tools/c2paverify/package-lock.json) that the tests
# verify every signed file with. It runs on Node.js: Debian's nodejs and
# npm are installed where the machine has none.
C2PA_VERIFIER := tools/c2paverify/node_modules/@contentauth/c2pa-wasm/package.json
c2pa-verifier: $(C2PA_VERIFIER)
$(C2PA_VERIFIER): tools/c2paverify/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; }
	cd tools/c2paverify && npm ci --no-audit --no-fund
	@touch $@

# minio builds the pinned MinIO server once into the per-user cache
# (about 5 minutes on 2 cores); fresh clones and CI runs reuse it.
minio: $(MINIO_BIN)
$(MINIO_BIN):
	@echo "building MinIO $(MINIO_VERSION) into $(MINIO_DIR) (once; about 5 minutes)"
	mkdir -p $(MINIO_DIR)
	cd $(MINIO_DIR) && GOFLAGS= GOBIN=$(MINIO_DIR) go install github.com/minio/minio@$(MINIO_VERSION)

# govulncheck builds the pinned govulncheck once into the per-user cache.
govulncheck: $(GOVULNCHECK_BIN)
$(GOVULNCHECK_BIN):
	mkdir -p $(GOVULNCHECK_DIR)
	cd $(GOVULNCHECK_DIR) && GOFLAGS= GOBIN=$(GOVULNCHECK_DIR) go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

# vulncheck fails on any known vulnerability the code reaches (govulncheck
# exits non-zero only for those: one in a required module that no code
# calls is reported, not failed). Without the database it says so and
# skips.
vulncheck:
	@if [ ! -f "$(VULNDB)/index/db.json" ]; then \
	  echo "vulncheck skipped: no vulnerability database at $(VULNDB) (../shared is absent)"; \
	else \
	  $(MAKE) --no-print-directory govulncheck && \
	  echo "$(GOVULNCHECK_BIN) -db file://$(VULNDB) ./..." && \
	  $(GOVULNCHECK_BIN) -db "file://$(VULNDB)" ./...; \
	fi

vet:
	go vet ./...

test: deps minio c2pa-verifier vet vulncheck test-go fuzz-short bench-short

test-go:
	go test -count=1 -timeout 15m $(GO_TEST_FLAGS) ./...

# fuzz-short runs every fuzz target briefly (a few seconds each); `make fuzz`
# runs them for 20 million inputs each (FUZZTIME=... to change).
FUZZ_TARGETS := ./workers/ingest:FuzzParseS3Event ./internal/photometa:FuzzExtract ./internal/photometa:FuzzGuard ./internal/photometa:FuzzCaptions ./internal/photometa:FuzzJPEGScans ./pipeline/gallery:FuzzParseManifest ./workers/assembler:FuzzCaption ./internal/stamp:FuzzStamp ./internal/c2pa:FuzzParseJUMBF ./internal/c2pa:FuzzRead ./internal/c2pa:FuzzVerifyToken
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SHORT)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
	  go test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

# bench is issue 8's measurement (bench/doc.go): per-photo cost of the
# derivative set against the libvips CLI and imgproxy side by side, worker
# peak RSS, a 30 x 24 MP gallery end to end through `photodesk dev` and
# with a process per role, 1000 small photos through every stage
# (throughput, latency, the pipeline's own share), and scale-out over 1-3
# processes per role. Issue 20: the benchmarks that run photodesk
# processes run both the work tree's binary (bin=head) and BASELINE's
# (bin=base; built once per commit into the cache by bench/baseline.sh;
# BASELINE= for none), and imgproxy is built once per version from
# $(PEERS) (bench/imgproxy.sh; skipped with a message where it is
# absent). Each of BENCH_COUNT rounds runs every benchmark once, base and
# head in turn (head first in odd rounds), so their pairs share the
# machine's state. Raw results go to bench/results.txt; bench/report
# prints the table (medians, 95% CIs, paired ratios, targets) into
# docs/performance.md and draws docs/performance.png. About 40 minutes
# with a baseline. bench-short, part of `make test`, runs each benchmark
# once in a small form (see there).
BENCH_COUNT ?= 6
# BENCH_FLAGS=-short checks the whole run's plumbing quickly (small
# inputs; the report's rows then say "not run", being named for the full
# sizes).
BENCH_FLAGS ?=
BASELINE ?= f3de3da
PEERS ?= ../shared/peers
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -ec
bench: deps minio
	base=""; if [ -n "$(BASELINE)" ]; then base=$$(bench/baseline.sh "$(BASELINE)"); fi; \
	imgproxy=$$(bench/imgproxy.sh "$(PEERS)"); \
	photos=$$(mktemp -d); trap 'rm -rf "$$photos"' EXIT; \
	export PHOTODESK_BENCH_BASELINE=$$base PHOTODESK_BENCH_IMGPROXY=$$imgproxy PHOTODESK_BENCH_PHOTOS=$$photos; \
	: >bench/results.txt; \
	for round in $$(seq 1 $(BENCH_COUNT)); do \
	  echo "make bench: round $$round of $(BENCH_COUNT)"; \
	  export PHOTODESK_BENCH_ROUND=$$round; \
	  go test $(BENCH_FLAGS) -run '^$$' -bench 'DerivativeSet|WorkerPeakRSS' -benchtime 3x -count 1 -timeout 60m ./bench | tee -a bench/results.txt; \
	  go test $(BENCH_FLAGS) -run '^$$' -bench 'EndToEnd|Pipeline|ScaleOut' -benchtime 1x -count 1 -timeout 60m ./bench | tee -a bench/results.txt; \
	done
	go run ./bench/report -doc docs/performance.md -png docs/performance.png bench/results.txt

# bench-short runs every benchmark once, small, on the work tree's binary,
# with imgproxy only if it is already built (no 5-minute build in `make
# test`); then the baseline plumbing (bin=base beside bin=head, the
# round's order) on the smallest end-to-end benchmark, with the work
# tree's own binary standing in as the baseline.
bench-short: SHELL := /bin/bash
bench-short: .SHELLFLAGS := -o pipefail -ec
bench-short: deps minio
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export PHOTODESK_BENCH_PHOTOS=$$tmp; \
	PHOTODESK_BENCH_IMGPROXY=$$(IMGPROXY_NO_BUILD=1 bench/imgproxy.sh "$(PEERS)") \
	  go test -short -run '^$$' -bench . -benchtime 1x -timeout 10m ./bench; \
	go build -o "$$tmp/photodesk" ./cmd/photodesk; \
	PHOTODESK_BENCH_BASELINE=$$tmp/photodesk PHOTODESK_BENCH_ROUND=1 \
	  go test -short -run '^$$' -bench 'EndToEnd/photos=4/upload=api' -benchtime 1x -timeout 10m ./bench

# chaos is the full chaos run (issue 7, chaos/): CHAOS_GALLERIES galleries
# of 8 photos go through separate photodesk worker processes while worker
# processes are SIGKILLed and NATS and MinIO restarted at random moments;
# then nothing may be lost or duplicated (about 7 minutes on 2 cores).
# CHAOS_SEED= replays a run (its seed is printed); PHOTODESK_CHAOS_HARD=1
# crashes NATS and MinIO instead of stopping them. `make test` runs a
# short one (TestChaosShort).
CHAOS_GALLERIES ?= 50
CHAOS_SEED ?=
chaos: deps minio
	PHOTODESK_CHAOS_GALLERIES=$(CHAOS_GALLERIES) PHOTODESK_CHAOS_SEED=$(CHAOS_SEED) \
	  go test -count=1 -run '^TestChaosFull$$' -timeout 60m -v ./chaos

# cluster runs photodesk as on several machines, on this one (internal/
# cluster): 3 NATS servers (JetStream, cluster routes) and 4 MinIO servers
# (one erasure set, 2 drives each), each in a network namespace of its
# own on a bridge (10.99.0.0/24), and worker processes with --replicas 3.
# It prints the addresses; Ctrl-C stops it and removes the namespaces.
# Needs root (namespaces).
cluster: deps minio build
	$(SUDO) env PHOTODESK_MINIO_BIN=$(MINIO_BIN) ./bin/photodesk cluster

demo: deps minio build
	./deploy/demo.sh

clean:
	rm -rf bin .data
