#!/bin/bash
# psnr-pair.sh MODEL RUN_DIR OTHER_MODELS_DIR: PSNR of MODEL from OTHER_MODELS_DIR against the same name in models/,
# on 6 of the run's held-out photos (every 4th of its heldOutContent). The distillation checks of docs/training.md and
# docs/realtime.md. Writes the pair of PNGs per photo to /tmp/psnr-MODEL/ for looking at.
set -euo pipefail
m=$1; run=$2; other=$3
V=${V:-/tmp/soakbuild/video}
data=${VIDEO_SHARED_DATA:-/work/shared/data}
out=/tmp/psnr-$m; mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE
root=$(cd "$(dirname "$0")/../.." && pwd)
for f in $(python3 -c "import json,sys; h=json.load(open(sys.argv[1]))['heldOutContent']; print(' '.join(h[i] for i in range(0, min(len(h), 24), 4)))" "$run/state.json"); do
  b=${f%.*}
  "$V" stylize "$data/content/$f" -m "$m" --models "$root/models" -o "$out/$b-shipped.png" -q >/dev/null 2>&1
  "$V" stylize "$data/content/$f" -m "$m" --models "$other" -o "$out/$b-other.png" -q >/dev/null 2>&1
  p=$(ffmpeg -i "$out/$b-shipped.png" -i "$out/$b-other.png" -lavfi psnr -f null - 2>&1 | grep -o "average:[0-9.inf]*" | cut -d: -f2)
  echo "$m $b $p"
done
