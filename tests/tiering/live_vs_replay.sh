#!/bin/sh
# The runtime's slow-tier bytes against `moetier replay`'s on the same routing.
# A model of a real trace's shape (26 MoE layers x 64 experts, top-6) runs
# under `moetier run --dram` with the driver's --route: llama.cpp computes the
# trace's experts, every decode step is sampled (the routing sampler at a 100%
# budget), and the engine counts each step's hits and misses. The live stats
# (`moetier stat --json`) and the exit summary are read, and replay runs the
# runtime's policy on the same tokens with a cache of the same number of
# experts. Every step sampled exactly, the plan migrates per token: each token
# goes through the policy in order, as in replay, and the runtime carries out
# its moves before the next token. The runtime reads a miss in place and then
# copies it in, so an admission costs it one more read than replay's model
# (where the read that serves a miss fills the cache): replay runs with
# --admit-cost 1, adapt weighs its rules that way as the runtime's does, and
# its bytes plus one read per admission are what the runtime's are compared
# with. Asserted: every step and use counted, the stat tool's per-token
# figures are the counters', both below the bytes with no cache, and the
# runtime within 11% of that replay figure (measured 0.7-3.6% per token at load
# 5-9, 9.5% once while a sanitizer test suite shared the 2 cores; rounds,
# MOETIER_PER_TOKEN=off, 12-15% above: docs/policies.md). Counts are exact; what
# varies from run to run is only how many tokens a pass of moves takes at once
# (the runtime thread's lag behind decode, which a busy machine lengthens).
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_mkmoe

TRACE=$TOP_SRCDIR/data/traces/deepseekv2lite_esft_law.trace
trace_shape "$TRACE"
N=800
pairs=$((L * E))

# q8_0 at 64 x 128: 8.5 KiB a part, the least that holds a whole 4 KiB page
# wherever a slice starts (tiers move whole pages); 41 MiB of experts
model=$TMP/m.gguf
"$MOETIER" mkmoe "$model" --routing "$TRACE" --embd 64 --ff 128 --seed 7 -q > "$TMP/mkmoe.log" 2>&1 ||
    { cat "$TMP/mkmoe.log"; fail "mkmoe failed"; }
eb=$(expert_bytes "$model") || exit 1
[ $((eb / pairs / 3)) -ge 8192 ] || fail "parts of $((eb / pairs / 3)) bytes: not tierable whole pages"

# 5.5 MiB: a slot's whole pages are about 13.5 KiB, so room for about a quarter
# of the experts (checked below against what the engine says)
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info
export MOETIER_PROMOTE=copy # the copy cache on any machine: its policy (auto = adapt) is one replay has
"$MOETIER" run --dram 5632K -- "$LLAMA_DRIVER" --quiet -m "$model" -n $N -t 1 --route "$TRACE" \
    > "$TMP/run.out" 2> "$TMP/run.err" &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2> /dev/null; do
    if "$MOETIER" stat $pid --json > "$TMP/stat.try" 2> /dev/null &&
        grep -q '"sampled_steps":[1-9]' "$TMP/stat.try"; then
        cp "$TMP/stat.try" "$TMP/stat.json" # the last good reading, once the process ends
    fi
    sleep 0.2
    i=$((i + 1))
done
wait $pid || { cat "$TMP/run.err"; fail "driver failed under moetier run"; }
[ -s "$TMP/stat.json" ] || { cat "$TMP/run.err"; fail "moetier stat never showed a sampled step"; }
grep -q "route: $((N * L)) injections, 0 mismatches" "$TMP/run.err" || fail "routing not injected: $(cat "$TMP/run.err")"

# the exit summary: every step sampled, every use counted
line=$(grep "sampled [0-9]* of [0-9]* decode tokens" "$TMP/run.err") || fail "no sampling summary"
set -- $(echo "$line" | sed 's/.*sampled \([0-9]*\) of \([0-9]*\) decode.*/\1 \2/')
[ "$1" -eq $N ] && [ "$2" -eq $N ] || fail "not every decode step sampled: $line"
line=$(grep "tiering: slow-tier reads per decode token" "$TMP/run.err") || fail "no bytes in the exit summary"
note "${line#*info: }"
set -- $(echo "$line" | sed 's/.*(\([0-9]*\) sampled steps).*(\([0-9]*\) of \([0-9]*\) sampled uses).*/\1 \2 \3/')
[ "$3" -le $((N * L * K)) ] && [ "$3" -ge $((N * L * K * 9 / 10)) ] && [ "$3" -eq $(($1 * L * K)) ] ||
    fail "uses counted $3 for $1 steps of $L x top-$K (from $N steps)"
grep -q "migration: per token" "$TMP/run.err" || fail "not migrating per token: $(grep migration "$TMP/run.err")"
room=$(sed -n 's/.*, room for \([0-9]*\)$/\1/p' "$TMP/run.err")
pol=$(sed -n 's/.*tiering: .*, policy \([a-z]*\), .*/\1/p' "$TMP/run.err")
[ -n "$room" ] && [ -n "$pol" ] || fail "no tiering line: $(cat "$TMP/run.err")"
[ $((room * 5)) -ge "$pairs" ] && [ $((room * 10)) -le $((pairs * 3)) ] ||
    fail "room for $room of $pairs experts: not about a quarter"

# the last live reading
num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" "$TMP/stat.json"; }
T=$(num decode) S=$(num sampled_steps) A=$(num accesses) H=$(num hits) D=$(num direct_bytes)
P=$(num bytes_promoted) jd=$(num direct) jp=$(num promoted)
[ -n "$T" ] && [ -n "$S" ] && [ -n "$A" ] && [ -n "$H" ] && [ -n "$D" ] && [ -n "$P" ] && [ -n "$jd" ] ||
    fail "stat --json: fields missing: $(head -c 600 "$TMP/stat.json")"
[ "$A" -eq $((S * L * K)) ] && [ "$H" -lt "$A" ] && [ "$S" -le "$T" ] || fail "stat: $S steps, $A uses, $H hits"
grep -q "\"policy\":\"$pol\"" "$TMP/stat.json" || fail "stat: policy not $pol"
# the tool's per-token figures are the counters' (6 significant digits)
awk -v d="$D" -v s="$S" -v j="$jd" -v p="$P" -v t="$T" -v jp="$jp" 'BEGIN {
    exit !(j > 0.999 * d / s && j < 1.001 * d / s && jp >= 0.999 * p / t && jp <= 1.001 * p / t + 1) }' ||
    fail "stat's bytes per token ($jd, $jp) are not $D / $S and $P / $T"

# replay: the same tokens (the trace's first T), the same number of experts;
# an expert's bytes = the mean of the slots the runtime missed
{ head -n 1 "$TRACE"; sed -n "2,$((T + 1))p" "$TRACE"; } > "$TMP/prefix.trace"
B=$(awk -v d="$D" -v m="$((A - H))" 'BEGIN { printf "%d", d / m }')
share=$(awk -v r="$room" -v n="$pairs" 'BEGIN { printf "%.6f", (r + 0.5) / n }')
"$MOETIER" replay "$TMP/prefix.trace" --policy "$pol" --cache "$share" --expert-size "$B" --admit-cost 1 --json \
    > "$TMP/replay.json" || fail "replay failed"
rb=$(sed -n 's/.*"slow_bytes_per_token":\([0-9.e+-]*\).*/\1/p' "$TMP/replay.json")
rh=$(sed -n 's/.*"hit_rate":\([0-9.e+-]*\).*/\1/p' "$TMP/replay.json")
rp=$(sed -n 's/.*"promoted":\([0-9]*\).*/\1/p' "$TMP/replay.json")
slots=$(sed -n 's/.*"slots":\([0-9]*\).*/\1/p' "$TMP/replay.json")
[ -n "$rb" ] && [ -n "$rh" ] && [ -n "$rp" ] && [ "$slots" = "$room" ] || fail "replay: $(cat "$TMP/replay.json")"

awk -v d="$D" -v s="$S" -v p="$P" -v t="$T" -v a="$A" -v h="$H" -v rb="$rb" -v rh="$rh" -v b="$B" \
    -v rp="$rp" -v lk="$((L * K))" -v pol="$pol" -v room="$room" 'BEGIN {
    direct = d / s; total = direct + p / t; none = lk * b
    live = rb + rp * b / t # replay, each admission one more read, as the runtime makes it
    printf "%s, %d experts (%d tokens): runtime %.0f KiB/token (misses %.0f + promoted %.0f), hit rate %.3f; " \
        "replay (--admit-cost 1) %.0f KiB/token, %.0f with the copies, hit rate %.3f; runtime/replay %.3f; " \
        "no cache %.0f KiB/token\n", pol, room, t, total / 1024, direct / 1024, p / t / 1024, h / a, rb / 1024,
        live / 1024, rh, total / live, none / 1024
    if (!(total < 0.9 * none)) { print "the runtime saves less than 10% of the no-cache bytes"; exit 1 }
    if (!(rb < none)) { print "replay reads no less than no cache"; exit 1 }
    if (!(total <= 1.11 * live && total >= live / 1.11)) { print "runtime and replay more than 11% apart"; exit 1 }
}' > "$TMP/cmp" || fail "$(cat "$TMP/cmp")"
note "$(cat "$TMP/cmp")"
echo "PASS: $test_name"
