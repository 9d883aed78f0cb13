#!/bin/sh
# The Kimi K2.5 grid at a tiny width (--like kimi-k2.5: deepseek2, 61 blocks,
# 1 dense lead, 384 routed + 1 shared experts, top-8): the real llama.cpp
# loads and decodes it, and `moetier inspect` maps 60 x 384 routed experts.
# Nothing in mkmoe, inspect or trace may be sized for 64 experts.
. "$(dirname "$0")/../lib.sh"
. "$TOP_SRCDIR/tests/mkmoe/arch_check.sh"
need_driver

arch_model kimi --like kimi-k2.5 --embd 32 --type q4_0
arch_map kimi 61 1 384 1
# the routing the driver records has 60 MoE layers of 384 experts, top-8
drive "$TMP/kimi_r" -m "$TMP/kimi.gguf" -n 16 --routing-out "$TMP/kimi.trace" --routing-phase gen --check-routing
"$MOETIER" trace "$TMP/kimi.trace" > "$TMP/kimi.summary" || fail "moetier trace of the Kimi-grid routing"
grep -q 'shape: *60 layers x 384 experts, top-8' "$TMP/kimi.summary" ||
    fail "trace shape: $(grep shape "$TMP/kimi.summary")"
echo "PASS: $test_name"
