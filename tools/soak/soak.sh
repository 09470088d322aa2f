#!/bin/bash
# Item 8 soak: one node, 8 streams (5 all + 3 latest) for 10 minutes, every model at 3 sizes; RSS/threads/fds every 5 s.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd); V=${V:-/tmp/soakbuild/video}; OUT=${1:-/tmp/soak-run}; BUDGET=${2:-3072}; SECS=${3:-600}
mkdir -p $OUT; export OMP_WAIT_POLICY=PASSIVE
M=adain,cartoon-anime,cartoon-anime:int8,cartoon-whitebox,cartoon-whitebox:int8,composition-vii,composition-vii:int8,great-wave,great-wave:int8,ink-capitol,ink-capitol:int8,monet-dusk,monet-dusk:int8,starry-night,starry-night:int8,the-scream,the-scream:int8,toon
S=3840x2160@0.5,1280x720@2,320x180@8
STYLE=${STYLE:-$ROOT/../shared/data/style/gauguin_te_fare.jpg}
$V serve --port 50301 --metrics-port 50302 --models $ROOT/models --max-streams 16 --max-streams-per-client 16 --frame-memory-mb $BUDGET > $OUT/server.log 2>&1 &
SP=$!
python3 $ROOT/tools/soak/sample.py $SP 5 $OUT/samples.csv &
for i in $(seq 60); do curl -s http://127.0.0.1:50302/metrics >/dev/null 2>&1 && break; sleep 1; done
sleep 15
date -u +%H:%M:%S > $OUT/load-start.txt
$V loadtest 127.0.0.1:50301 --mix --streams 5 --policy all --seconds $SECS --switch-every 20 --warmup 2 --style $STYLE --model $M --size $S > $OUT/all.txt 2>&1 &
A=$!
$V loadtest 127.0.0.1:50301 --mix --streams 3 --policy latest --seconds $SECS --switch-every 20 --warmup 2 --style $STYLE --model $M --size $S > $OUT/latest.txt 2>&1 &
L=$!
wait $A $L
date -u +%H:%M:%S > $OUT/load-end.txt
curl -s http://127.0.0.1:50302/metrics > $OUT/metrics.txt
sleep 60
kill -TERM $SP; wait $SP
