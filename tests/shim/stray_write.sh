#!/bin/sh
# A genuine fault is the application's, not moetier's (issue 14, defect 2):
# the driver writes one byte into read-only expert weights (the model mapped,
# as llama.cpp maps it). Without the preload it dies of SIGSEGV at once; under
# the preload, with the fault sampler built over the layer's expert tensors,
# it must die the same way for each of the layer's three expert tensors (the
# sampler's region covers one of them), not hang in a handler that claims the
# fault and returns to it forever. `timeout` only bounds that hang.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
ulimit -c 0 # the crashes are expected: no core files
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"

# stray PREFIX TENSOR [VAR=VALUE...]: the driver's exit status writing into TENSOR
stray() {
    pfx=$1 t=$2
    shift 2
    env "$@" timeout 600 "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --mmap --no-repack --feed "$TEXT" --feed-max 30 \
        -n 8 --stray-write "$t" > "$pfx.out" 2> "$pfx.err"
    echo $?
}
t=blk.1.ffn_gate_exps.weight
rc=$(stray "$TMP/plain" $t)
grep -q "^stray_write: $t\$" "$TMP/plain.out" || fail "the driver did not reach the write: $(cat "$TMP/plain.out" "$TMP/plain.err")"
[ "$rc" = 139 ] || fail "without the preload the write into $t ended with $rc, not SIGSEGV (139): weights not read-only?"
for part in gate up down; do
    t=blk.1.ffn_${part}_exps.weight
    rc=$(stray "$TMP/$part" $t LD_PRELOAD="$MOETIER_LIB" MOETIER_SAMPLER=fault MOETIER_SAMPLE_MS=1 \
        MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info MOETIER_PROFILE=off MOETIER_STATS_DIR="$TMP/stats")
    grep -q "sampler: fault, 4 layer regions" "$TMP/$part.err" || fail "no fault sampler: $(cat "$TMP/$part.err")"
    grep -q "^stray_write: $t\$" "$TMP/$part.out" || fail "$t: the driver did not reach the write"
    [ "$rc" != 124 ] || fail "a write into $t hung under the preload (moetier's handler claimed the fault)"
    [ "$rc" = 139 ] || fail "a write into $t ended with $rc under the preload, not SIGSEGV (139): $(cat "$TMP/$part.err")"
done
note "a stray write into each expert tensor of a layer: SIGSEGV, with and without the fault sampler"
echo "PASS: $test_name"
