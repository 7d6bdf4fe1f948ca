#!/usr/bin/env bash
# make demo: run photodesk dev on a fresh data dir, upload the sample
# gallery, print each photo's EXIF date and derivatives as they come back
# through MinIO's notification and JetStream, then the gallery's published
# record (ninjs) and its HTML preview, then stop everything. KEEP=1 leaves
# photodesk dev running so the preview's images stay reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/photodesk
data=$(mktemp -d -t photodesk-demo.XXXXXX)
log="$data/dev.log"
gallery="sample-$(date +%Y%m%d-%H%M%S)"
photos=$(ls samples/gallery/*.jpg | wc -l)

"$bin" dev --data "$data" >"$log" 2>&1 &
dev=$!
cleanup() {
  kill -TERM "$dev" 2>/dev/null && wait "$dev" 2>/dev/null || true
  echo "photodesk dev stopped; its log was $log"
}
trap cleanup EXIT

# dev prints its banner once the trigger has been proven end to end.
for _ in $(seq 180); do
  grep -q "photodesk dev is running" "$log" && break
  kill -0 "$dev" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q "photodesk dev is running" "$log" || ! "$bin" health --wait 10s; then
  echo "photodesk dev did not come up; its log:" >&2
  cat "$log" >&2
  exit 1
fi
sed -n '/photodesk dev is running/,/roles/p' "$log"
echo
"$bin" upload --gallery "$gallery" samples/gallery
echo
echo "Results for gallery $gallery, as the exif, renditions and watermark roles published them:"
"$bin" watch --gallery "$gallery" --expect "$photos" --timeout 90s
echo
echo "The newsroom's view: the first record published (photodesk subscribe):"
timeout 60 "$bin" subscribe --durable "demo" --gallery "$gallery" --count 1
echo
echo "The record, briefly (photodesk article --brief $gallery):"
"$bin" article "$gallery" > "$data/article.json"
"$bin" article --preview "$gallery" > "$data/index.html"
"$bin" article --brief "$gallery"
echo
echo "Whole record:  $data/article.json"
echo "HTML preview:  $data/index.html (its images load while photodesk dev runs)"
echo "Preview URL:   $("$bin" article --preview-url "$gallery")"
if [ "${KEEP:-}" = 1 ]; then
  echo
  echo "photodesk dev keeps running (KEEP=1); Ctrl-C stops it."
  wait "$dev"
fi
