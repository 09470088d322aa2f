#!/bin/bash
# Peak ONNX Runtime run memory (large anonymous mmaps) per model for one 3840x2160 stream.
ROOT=$(cd "$(dirname "$0")/../.." && pwd); V=${V:-/tmp/xbuild/video}; OUT=${OUT:-/tmp/runmem}; mkdir -p $OUT; export OMP_WAIT_POLICY=PASSIVE
$V serve --port 50401 --metrics-port -1 --models $ROOT/models --frame-memory-mb 12000 -q > $OUT/server.log 2>&1 &
S=$!; sleep 1
python3 $ROOT/tools/soak/sample.py $S 0.2 $OUT/samples.csv &
sleep 20
for m in "$@"; do
  st=""; [ $m = adain ] && st="--style $ROOT/../shared/data/style/gauguin_te_fare.jpg"
  echo "start $m $(date +%s.%N)" >> $OUT/marks.txt
  $V loadtest 127.0.0.1:50401 --streams 1 --size 3840x2160@0.7 --policy all --seconds 3 --warmup 0 -m $m $st > $OUT/$m.txt 2>&1
  echo "end $m $(date +%s.%N)" >> $OUT/marks.txt
  sleep 3
done
kill -TERM $S; wait $S
