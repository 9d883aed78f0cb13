#!/bin/sh
# --route FILE.trace: the real llama.cpp computes a real trace's experts.
# On a model of the trace's shape (26 MoE layers x 64 experts, top-6):
# every (token, MoE layer) of every single-token decode is injected and
# checked (ffn_moe_weights = ffn_moe_probs at the injected ids), the graph
# goes on with the trace's ids (the routing recorded after the injection is
# the trace's), the output changes, injecting the model's own routing
# changes nothing, 2 threads compute what 1 does, the check catches an
# injection made too late, the trace wraps, and a trace of another shape
# exits 2 with one line. The deepseek2 arch (a dense lead block, sigmoid
# gating with a selection bias, normalised and scaled weights) and qwen3moe
# (softmax, normalised) pass the same check.
. "$(dirname "$0")/../lib.sh"
need_driver
need_mkmoe

TRACE=$TOP_SRCDIR/data/traces/deepseekv2lite_esft_law.trace
trace_shape "$TRACE"
N=12

# tiny widths: 26 x 64 experts stay about 12 MiB
mk() {
    out=$1
    shift
    "$MOETIER" mkmoe "$out" --embd 64 --ff 32 --seed 7 -q "$@" > "$TMP/mkmoe.log" 2>&1 ||
        { cat "$TMP/mkmoe.log"; fail "mkmoe $out $* failed"; }
}

# route_ok PFX INJ: PFX.err's 'route: I injections, M mismatches, U unverified, ...'
# line has I = INJ, M = U = 0.
route_ok() {
    want=$2
    line=$(grep '^route: [0-9]* injections' "$1.err")
    [ -n "$line" ] || fail "$1: no route: line"
    set -- $line
    [ "$2" -eq "$want" ] || fail "$line: wanted $want injections"
    [ "$4" -eq 0 ] && [ "$6" -eq 0 ] || fail "$line"
}
# the token lines of a trace file, the first N of them
rows() {
    tail -n +2 "$1" | head -n "$2"
}

model=$TMP/llama.gguf
mk "$model" --routing "$TRACE"

# 1. plain and routed runs, both recording the routing the graph went on with
drive "$TMP/plain" -m "$model" -n $N -t 1 --routing-out "$TMP/plain.trace"
drive "$TMP/route" -m "$model" -n $N -t 1 --route "$TRACE" --routing-out "$TMP/route.trace"
route_ok "$TMP/route" $((N * L))
rows "$TRACE" $N > "$TMP/want"
rows "$TMP/route.trace" $N > "$TMP/got"
cmp -s "$TMP/want" "$TMP/got" || fail "the routing after injection is not the trace's first $N tokens"
rows "$TMP/plain.trace" $N > "$TMP/own"
cmp -s "$TMP/want" "$TMP/own" && fail "the model's own routing already is the trace's: nothing shown"
cmp -s "$TMP/plain.out" "$TMP/route.out" && fail "the injected routing did not change the output"
note "$(grep '^route:' "$TMP/route.err")"
note "plain $(grep '^tokens:' "$TMP/plain.out")"
note "route $(grep '^tokens:' "$TMP/route.out")"

# 2. injecting the model's own routing is exact: the same tokens as plain
drive "$TMP/own" -m "$model" -n $N -t 1 --route "$TMP/plain.trace"
route_ok "$TMP/own" $((N * L))
cmp -s "$TMP/plain.out" "$TMP/own.out" || fail "injecting the model's own routing changed the output"

# 3. two threads: the callback still writes before the experts read
drive "$TMP/t2" -m "$model" -n 2 -t 2 --route "$TRACE"
route_ok "$TMP/t2" $((2 * L))
set -- $(grep '^tokens:' "$TMP/route.out")
[ "$(grep "^tokens:" "$TMP/t2.out")" = "tokens: $2 $3" ] ||
    fail "2 threads: $(grep '^tokens:' "$TMP/t2.out"), 1 thread: tokens: $2 $3"

# 4. the check can fail: injected after ffn_moe_weights was gathered
"$LLAMA_DRIVER" --quiet -m "$model" -n 2 -t 1 --route "$TRACE" --route-late \
    > "$TMP/late.out" 2> "$TMP/late.err"
rc=$?
[ $rc -eq 1 ] || fail "--route-late exited $rc, wanted 1"
set -- $(grep '^route: [0-9]* injections' "$TMP/late.err")
[ "${4:-0}" -gt 0 ] || fail "--route-late: no mismatches seen: $(grep '^route:' "$TMP/late.err")"

# 5. a 5-token trace wraps around
{ head -n 1 "$TRACE"; rows "$TRACE" 5; } > "$TMP/five.trace"
drive "$TMP/wrap" -m "$model" -n $N -t 1 --route "$TMP/five.trace" --routing-out "$TMP/wrap.trace"
route_ok "$TMP/wrap" $((N * L))
grep -q "^route: .* 12 tokens of 5 (2 wraps)" "$TMP/wrap.err" || fail "$(grep '^route:' "$TMP/wrap.err")"
grep -q "wrapping to its first" "$TMP/wrap.err" || fail "the wrap is not said"
tail -n +2 "$TMP/wrap.trace" | sed -n 6,10p > "$TMP/second"
rows "$TRACE" 5 | cmp -s - "$TMP/second" || fail "tokens 6-10 did not get the trace's tokens 1-5"

# 6. another shape: exit 2, one llama_driver: line saying what differs (experts
# and top-k are checked before any decode, the MoE layers at the first)
# bad NAME WORDS [mkmoe options]
bad() {
    name=$1 words=$2
    shift 2
    mk "$TMP/$name.gguf" "$@"
    "$LLAMA_DRIVER" --quiet -m "$TMP/$name.gguf" -n 2 -t 1 --route "$TRACE" \
        > "$TMP/$name.out" 2> "$TMP/$name.err"
    rc=$?
    [ $rc -eq 2 ] || { cat "$TMP/$name.err"; fail "$name: exit $rc, wanted 2"; }
    [ "$(grep -c '^llama_driver:' "$TMP/$name.err")" -eq 1 ] || fail "$name: not one error line"
    grep '^llama_driver:' "$TMP/$name.err" | grep -q -- "$words" ||
        fail "$name: $(grep '^llama_driver:' "$TMP/$name.err") lacks '$words'"
    grep -q '^route: ' "$TMP/$name.err" && fail "$name: a route: summary after a shape error"
    note "$name: $(grep '^llama_driver:' "$TMP/$name.err")"
}
bad layers "the trace has $L MoE layers, the model 4" --layers 4 --experts $E --used $K
bad experts "the model 32 experts top-$K" --layers 2 --experts 32 --used $K
bad topk "the model $E experts top-4" --layers 2 --experts $E --used 4
"$LLAMA_DRIVER" --quiet -m "$model" --route "$TRACE" --check-routing > /dev/null 2>&1
[ $? -eq 2 ] || fail "--route with --check-routing did not exit 2"
"$LLAMA_DRIVER" --quiet -m "$model" --route-late > /dev/null 2>&1
[ $? -eq 2 ] || fail "--route-late without --route did not exit 2"

# 7. other architectures: the same exact check, trace layer 0 = the first MoE block
for arch in deepseek2 qwen3moe; do
    layers=$L
    [ $arch = deepseek2 ] && layers=$((L + 1)) # its dense lead block has no experts
    mk "$TMP/$arch.gguf" --arch $arch --layers $layers --routing "$TRACE"
    drive "$TMP/$arch" -m "$TMP/$arch.gguf" -n $N -t 1 --route "$TRACE" --routing-out "$TMP/$arch.trace"
    route_ok "$TMP/$arch" $((N * L))
    rows "$TMP/$arch.trace" $N | cmp -s "$TMP/want" - || fail "$arch: the routing after injection is not the trace's"
    note "$arch: $(grep '^route:' "$TMP/$arch.err"); $(head -n 1 "$TMP/$arch.trace" | sed 's/.* moe_layers=/moe_layers=/')"
done
exit 0
