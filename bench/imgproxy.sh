#!/usr/bin/env bash
# imgproxy.sh PEERS_DIR: builds imgproxy from PEERS_DIR/imgproxy (the
# source kept beside the project, ../shared/peers; see its README) into
# the per-user cache, once per imgproxy version, and prints the binary's
# path; prints nothing, with the reason on stderr, where the source is
# absent, so that `make bench` goes on without imgproxy. It copies the
# tree to a temporary directory and builds there, as the peers README
# says: nothing of imgproxy enters this repository. With IMGPROXY_NO_BUILD=1
# it only prints a binary already cached (bench-short: no 5-minute build
# inside `make test`).
set -euo pipefail
src=${1:?usage: imgproxy.sh PEERS_DIR}/imgproxy
if [ ! -f "$src/version/version.go" ]; then
  echo "imgproxy: no source at $src; the benchmarks run without it (impl=imgproxy skipped)" >&2
  exit 0
fi
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$src/version/version.go")
cache=${XDG_CACHE_HOME:-$HOME/.cache}/photodesk/imgproxy-$version
bin=$cache/imgproxy
if [ ! -x "$bin" ] && [ "${IMGPROXY_NO_BUILD:-}" = 1 ]; then
  echo "imgproxy $version is not built yet ($bin); impl=imgproxy is skipped (make bench builds it)" >&2
  exit 0
fi
if [ ! -x "$bin" ]; then
  echo "building imgproxy $version into $cache (once per version; a few minutes)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$src" "$tmp/imgproxy"
  mkdir -p "$cache"
  (cd "$tmp/imgproxy" && CGO_LDFLAGS_ALLOW='-s|-w' GOFLAGS= go build -o "$bin.tmp" ./cli)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
