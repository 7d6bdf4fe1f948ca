#!/bin/sh
# Writes cameras.golden.json beside this script: what exiftool, a reader
# independent of ours (Debian's libimage-exiftool-perl), says of each photo in
# the shared camera corpus. TestGoldenCameras compares Extract with it; it
# never runs exiftool itself.
#
#   internal/photometa/testdata/golden.sh [corpus-dir]
#
# corpus-dir defaults to /work/shared/corpus/cameras as seen from this repo
# (../shared/corpus/cameras from the repository root).
#
# -G1 names each tag with the block it came from (IFD0, ExifIFD, GPS, XMP-*,
# File, Composite, ...), -a keeps a tag found in several blocks, -n gives
# numbers rather than prose (signed decimal degrees in Composite:GPS*). The
# Composite:SubSec* dates are exiftool's own joining of a date with its
# sub-second and offset tags.
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-$here/../../../../shared/corpus/cameras}
[ -d "$corpus" ] || { echo "golden.sh: $corpus not present" >&2; exit 1; }
out=$here/cameras.golden.json
cd "$corpus"
exiftool -j -n -a -G1 -fileOrder FileName \
	-ExifToolVersion \
	-DateTimeOriginal -CreateDate -ModifyDate \
	-XMP-photoshop:DateCreated -IPTC:DateCreated -IPTC:TimeCreated \
	-OffsetTimeOriginal -OffsetTimeDigitized -OffsetTime \
	-SubSecTimeOriginal -SubSecTimeDigitized -SubSecTime \
	-SubSecDateTimeOriginal -SubSecCreateDate -SubSecModifyDate \
	-GPSDateStamp -GPSTimeStamp -GPSDateTime \
	-Make -Model -Orientation \
	-ImageWidth -ImageHeight -ExifImageWidth -ExifImageHeight \
	-GPSLatitude -GPSLatitudeRef -GPSLongitude -GPSLongitudeRef -GPSAltitude -GPSAltitudeRef \
	*.jpg >"$out.tmp"
mv "$out.tmp" "$out"
echo "golden.sh: wrote $out ($(grep -c '"SourceFile"' "$out") files)" >&2
