#!/bin/sh
# While llama.cpp decodes under the preload, the live stats segment shows the
# model and non-zero hits (read with `moetier stat --json`), owner-only; the
# profile is written at exit, the segment removed, and the next run on the
# same model starts warm from the profile.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE="$TMP/m.prof" MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100%
LD_PRELOAD="$MOETIER_LIB" MOETIER_LOG=info "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 6000 -n 1 \
    > "$TMP/run.out" 2> "$TMP/run.err" &
pid=$!
seen=
i=0
while [ $i -lt 150 ] && kill -0 $pid 2> /dev/null; do
    if "$MOETIER" stat $pid --json > "$TMP/stat.json" 2> /dev/null && grep -q '"hits":[1-9]' "$TMP/stat.json"; then
        seen=1
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
[ -n "$seen" ] || { kill $pid 2> /dev/null; cat "$TMP/run.err"; fail "no live stats with hits while the driver ran"; }
grep -q "\"pid\":$pid" "$TMP/stat.json" || fail "stat --json: wrong pid: $(head -c 300 "$TMP/stat.json")"
grep -q "\"model\":\"$TMP/m.gguf\"" "$TMP/stat.json" || fail "stat --json: model missing: $(head -c 300 "$TMP/stat.json")"
grep -q '"kind":"routing"' "$TMP/stat.json" || fail "stat --json: sampler kind (routing, the default under llama.cpp): $(head -c 600 "$TMP/stat.json")"
seg=$(ls "$TMP/stats"/moetier-$pid.stats) || fail "no segment file"
[ "$(stat -c %a "$seg")" = 600 ] || fail "segment mode $(stat -c %a "$seg"), expected 600"
kill -0 $pid 2> /dev/null && note "live: $(sed 's/"experts":\[.*\],"tiers"/"experts":[...],"tiers"/' "$TMP/stat.json" | head -c 400)"
wait $pid || fail "driver failed under the preload"
[ ! -e "$seg" ] || fail "segment not removed at exit"
[ -s "$TMP/m.prof" ] || fail "no profile at exit"

# --no-mmap: the weight buffer llama.cpp allocates is tracked as a weight-sized
# allocation, and the experts in it are reported as DRAM-resident and untiered
LD_PRELOAD="$MOETIER_LIB" MOETIER_PROFILE=off "$LLAMA_DRIVER" --quiet --no-mmap -m "$TMP/m.gguf" --feed "$TEXT" \
    --feed-max 6000 -n 1 > "$TMP/nm.out" 2> "$TMP/nm.err" &
pid=$!
seen=
i=0
while [ $i -lt 150 ] && kill -0 $pid 2> /dev/null; do
    if "$MOETIER" stat $pid > "$TMP/nm.stat" 2> /dev/null && grep -q "weight-sized allocation" "$TMP/nm.stat"; then
        seen=1
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
wait $pid || fail "--no-mmap driver failed under the preload"
[ -n "$seen" ] || fail "--no-mmap: no weight-sized allocation reported: $(cat "$TMP/nm.stat" 2>/dev/null)"
grep -q "anonymous buffer (DRAM-resident, untiered" "$TMP/nm.stat" || fail "--no-mmap placement: $(grep placement "$TMP/nm.stat")"
note "no-mmap $(grep placement "$TMP/nm.stat")"

# the next run starts warm: it logs the warm start, and its profile carries the first run's hits on
LD_PRELOAD="$MOETIER_LIB" MOETIER_LOG=info drive "$TMP/warm" -m "$TMP/m.gguf" -n 4
grep -q "warm start from $TMP/m.prof" "$TMP/warm.err" || fail "no warm start: $(cat "$TMP/warm.err")"

# a profile of another model is refused, and left alone
"$MOETIER" mkmoe "$TMP/other.gguf" --embd 256 --seed 9 --layers 2 -q || fail "mkmoe other"
cp "$TMP/m.prof" "$TMP/keep.prof"
LD_PRELOAD="$MOETIER_LIB" MOETIER_LOG=info drive "$TMP/other" -m "$TMP/other.gguf" -n 4
grep -q "MOETIER_PROFILE=$TMP/m.prof: not used" "$TMP/other.err" || fail "foreign profile not refused: $(cat "$TMP/other.err")"
cmp -s "$TMP/m.prof" "$TMP/keep.prof" || fail "another model's run overwrote the profile"
echo "PASS: $test_name"
