#!/bin/sh
# The Kimi K2.5 grid at a tiny width (--like kimi-k2.5: deepseek2, 61 blocks,
# 1 dense lead, 384 routed + 1 shared experts, top-8; embd 32, q4_0, 42 MiB):
# the real llama.cpp loads and decodes it, its recorded routing is 60 layers
# x 384 experts top-8, and `moetier inspect` maps 60 x 384 routed experts.
# Nothing in mkmoe, inspect or trace may be sized for 64 experts. One short
# decode: 61 layers with the driver's per-node callback are slow on 2 cores.
. "$(dirname "$0")/../lib.sh"
. "$TOP_SRCDIR/tests/mkmoe/arch_check.sh"
need_driver

"$MOETIER" mkmoe "$TMP/kimi.gguf" --like kimi-k2.5 --embd 32 --type q4_0 -q || fail "mkmoe --like kimi-k2.5"
drive "$TMP/kimi" -m "$TMP/kimi.gguf" -n 2 --buffers --routing-out "$TMP/kimi.trace" --routing-phase gen
grep -q '^tokens: [0-9]* [0-9]' "$TMP/kimi.out" || fail "no tokens decoded"
note "$(wc -c < "$TMP/kimi.gguf") bytes, expert buffers $(sed -n 's/^expert_buffers: //p' "$TMP/kimi.out")"
"$MOETIER" inspect --json "$TMP/kimi.gguf" > "$TMP/kimi.json" || fail "inspect"
arch_map kimi 61 1 384 1
"$MOETIER" trace "$TMP/kimi.trace" > "$TMP/kimi.summary" || fail "moetier trace of the Kimi-grid routing"
grep -q 'shape: *60 layers x 384 experts, top-8' "$TMP/kimi.summary" ||
    fail "trace shape: $(grep shape "$TMP/kimi.summary")"
echo "PASS: $test_name"
