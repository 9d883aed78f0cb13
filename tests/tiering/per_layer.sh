#!/bin/sh
# Per layer (MOETIER_PER_LAYER) on the copy tier, the real llama.cpp with a
# real trace's routing (DeepSeek-V2-Lite's law, 26 x 64, top-6, injected by
# the driver's --route), a DRAM cache of about a quarter of the experts, every
# step sampled. In one run of this test, on the same model and routing: plain
# llama.cpp on one thread and on every core, and moetier with
# MOETIER_PER_LAYER off, on and auto on one thread (a CPU left for the
# runtime thread where the machine has two), and auto on every core.
# Asserted:
#  - tokens identical to plain (of the same thread count) in every run;
#  - every run accounts for all 200 tokens: through the policy, or dropped
#    from the ring when the runtime thread fell 64 steps behind (measured:
#    one run of this test on a fresh machine dropped 33; decode never waits);
#  - off: per token, no layer through the policy before its step ended;
#  - on: the plan says per layer; MoE layers went through the policy as their
#    router chose them (how many depends on the runtime thread's lag: the
#    rest come with the step's end), and moves started before the token they
#    follow ended (the runtime thread is woken at each layer: over 200 steps
#    it runs inside some of them);
#  - auto with a CPU to spare measures a decode step acting at every router
#    against one read after the step and says which it chose, with the
#    figure; auto on every core stays per token and says why (llama.cpp's
#    threads on every CPU), without measuring.
# The bytes each run moves are printed, not asserted (they depend on how far
# the moves get before the next token's layers: the machine's load); the unit
# test test_step_ring shows that the policy decides the same either way.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_mkmoe
clear_moetier_env

TRACE=$TOP_SRCDIR/data/traces/deepseekv2lite_esft_law.trace
trace_shape "$TRACE"
N=200
model=$TMP/m.gguf
"$MOETIER" mkmoe "$model" --routing "$TRACE" --embd 64 --ff 128 --seed 7 -q > "$TMP/mkmoe.log" 2>&1 ||
    { cat "$TMP/mkmoe.log"; fail "mkmoe failed"; }
args="-m $model -n $N --route $TRACE"
cpus=$(nproc)

drive "$TMP/plain" $args
drive "$TMP/plain1" $args -t 1
want=$(field "$TMP/plain.out" tokens)
want1=$(field "$TMP/plain1.out" tokens)
[ -n "$want" ] && [ -n "$want1" ] || fail "no tokens without the preload"

export MOETIER_PROFILE=off MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info MOETIER_PROMOTE=copy MOETIER_DRAM=5632K
export MOETIER_STATS_DIR="$TMP/stats"
for run in off:1 on:1 auto:1 auto:all; do
    mode=${run%:*} name=$mode threads="-t 1" expect=$want1
    [ "${run#*:}" = all ] && name=${mode}_all threads= expect=$want
    MOETIER_PER_LAYER=$mode LD_PRELOAD=$MOETIER_LIB drive "$TMP/$name" $args $threads
    got=$(field "$TMP/$name.out" tokens)
    [ "$got" = "$expect" ] || fail "$name: tokens differ from plain llama.cpp: [$got] vs [$expect]"
    grep -q "route: $((N * L)) injections, 0 mismatches" "$TMP/$name.err" || fail "$name: routing not injected"
    # every step through the policy, or counted as dropped (the ring full: the runtime thread
    # far behind, as a loaded machine makes it; decode never waits)
    through=$(sed -n 's/.*tiering: per token: \([0-9]*\) tokens through the policy.*/\1/p' "$TMP/$name.err")
    dropped=$(sed -n 's/.*tiering: \([0-9]*\) sampled steps not seen by the policy.*/\1/p' "$TMP/$name.err")
    [ -n "$through" ] && [ "$through" -gt 0 ] && [ $((through + ${dropped:-0})) -eq $N ] ||
        fail "$name: $through tokens through the policy and ${dropped:-0} dropped of $N: $(grep 'per token' "$TMP/$name.err")"
    note "$name: $(sed -n 's/.*tiering: \(slow-tier reads per decode token [^:]*\):.*DRAM hit rate \([0-9.]*\).*/\1, hit rate \2/p' "$TMP/$name.err")"
done

# off: moves start when the token ends
grep -q "MOETIER_PER_LAYER=off: each token's moves start when the token ends" "$TMP/off.err" ||
    fail "off: no plan line"
! grep -q "tiering: per layer: [1-9]" "$TMP/off.err" || fail "off: layers went through the policy early"

# on: each layer at its router, moves before the token ended
grep -q "migration: per layer (each MoE layer's experts go through the policy as its router chooses them" \
    "$TMP/on.err" || fail "on: no plan line: $(grep migration "$TMP/on.err")"
line=$(grep "tiering: per layer:" "$TMP/on.err") || fail "on: no per-layer exit line"
note "on: ${line#*tiering: }"
set -- $(echo "$line" | sed 's/.*per layer: \([0-9]*\) MoE layers.*(\([0-9]*\) dropped), \([0-9]*\) moves started.*/\1 \2 \3/')
[ "$1" -gt 0 ] && [ "$1" -le $((N * L)) ] || fail "on: $1 of $((N * L)) layers through the policy early"
[ "$3" -gt 0 ] || fail "on: no move started before its token ended"

# auto on every core: per token, for llama.cpp's threads, nothing measured
grep -q "migration: per token, not per layer: llama.cpp decodes on $cpus threads and this process may use $cpus CPUs" \
    "$TMP/auto_all.err" || fail "auto on every core: $(grep 'per layer' "$TMP/auto_all.err")"
! grep -q "per layer: a decode step acting" "$TMP/auto_all.err" || fail "auto on every core measured anyway"

# auto on one thread: with a CPU to spare, the measurement and the decision it gave
if [ "$cpus" -lt 2 ]; then
    grep -q "migration: per token, not per layer: llama.cpp decodes on 1 threads" "$TMP/auto.err" ||
        fail "auto on the only CPU: $(grep 'per layer' "$TMP/auto.err")"
    exit 0
fi
grep -q "per layer: a decode step acting at every MoE layer's router took [0-9]* us, one read after the step [0-9]* us" \
    "$TMP/auto.err" || fail "auto: no measurement: $(grep 'per layer' "$TMP/auto.err")"
decision=$(grep -A1 "per layer: a decode step acting" "$TMP/auto.err" | tail -n 1)
echo "$decision" | grep -Eq "migration: (per layer \(.*acting at every router measured [+-][0-9]+\.[0-9]% a decode step|per token, not per layer: acting at every MoE layer's router measured \+[0-9]+\.[0-9]% a decode step)" ||
    fail "auto: no decision after the measurement: $decision"
note "auto: ${decision#*info: }"
exit 0
