#!/usr/bin/env bash
# baseline.sh COMMIT: builds photodesk as it was at COMMIT (git archive, so
# the work tree and its other worktrees are untouched) into the per-user
# cache, once per commit, and prints the binary's path. `make bench
# BASELINE=<commit>` runs it and hands the path to the benchmarks
# (PHOTODESK_BENCH_BASELINE), which then run that binary beside the work
# tree's, alternating.
set -euo pipefail
commit=$(git rev-parse --verify "${1:?usage: baseline.sh COMMIT}^{commit}")
cache=${XDG_CACHE_HOME:-$HOME/.cache}/photodesk/baseline-$commit
bin=$cache/photodesk
if [ ! -x "$bin" ]; then
  echo "building photodesk at $commit into $cache (once per commit)" >&2
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  git archive "$commit" | tar -x -C "$src"
  mkdir -p "$cache"
  (cd "$src" && go build -o "$bin.tmp" ./cmd/photodesk)
  mv "$bin.tmp" "$bin" # whole or not at all: an interrupted build is not cached
fi
echo "$bin"
