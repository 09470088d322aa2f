#!/bin/bash
# Fuzzes one parser with SharpFuzz under AFL++ (issue 18, item 7).
#   tests/fuzz/run.sh image-header|manifest SECONDS
# Needs afl++ (apt-get install afl++) and the sharpfuzz tool (dotnet tool install SharpFuzz.CommandLine).
# Builds tests/fuzz/Video.Fuzz into OUT (default /tmp/video-fuzz), instruments Video.Capture and Video.Inference,
# then runs afl-fuzz on tests/fuzz/corpus/TARGET; findings (queue, crashes, hangs) go to OUT/findings-TARGET.
set -euo pipefail
target=${1:?target: image-header or manifest}
seconds=${2:-600}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/video-fuzz}
sharpfuzz=${SHARPFUZZ:-sharpfuzz}
if [ ! -f "$out/bin/Video.Fuzz.dll" ]; then
  dotnet build "$here/Video.Fuzz" -c Release -o "$out/bin"
  "$sharpfuzz" "$out/bin/Video.Capture.dll"
  "$sharpfuzz" "$out/bin/Video.Inference.dll"
fi
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 DOTNET_TieredCompilation=0
exec afl-fuzz -V "$seconds" -t 10000 -m none -i "$here/corpus/$target" -o "$out/findings-$target" -- dotnet "$out/bin/Video.Fuzz.dll" "$target"
