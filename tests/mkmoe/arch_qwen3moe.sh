#!/bin/sh
# mkmoe --arch qwen3moe (q/k norms, softmax top-k, no shared experts) loads and
# generates in the real llama.cpp; inspect maps every routed expert; --routing
# shapes the routing, measured with llama.cpp.
. "$(dirname "$0")/../lib.sh"
. "$TOP_SRCDIR/tests/mkmoe/arch_check.sh"
need_driver
need_text

arch_model qw --arch qwen3moe --layers 3 --experts 16 --used 4
arch_map qw 3 0 16 0
arch_model qw_like --like qwen3-235b --layers 2 --embd 64 --type q4_0
arch_map qw_like 2 0 128 0
arch_routing qw_esft "$TOP_SRCDIR/data/traces/deepseekv2lite_esft_intent.trace" --arch qwen3moe --embd 64 \
    --layers 4
echo "PASS: $test_name"
