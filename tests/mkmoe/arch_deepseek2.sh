#!/bin/sh
# mkmoe --arch deepseek2 (MLA, leading dense blocks, shared experts, sigmoid
# gating with exp_probs_b) loads and generates in the real llama.cpp, with and
# without the query LoRA and with a fused ffn_gate_up_exps; inspect maps every
# routed expert (shared ones are dense); --routing shapes the routing through
# exp_probs_b, measured with llama.cpp.
. "$(dirname "$0")/../lib.sh"
. "$TOP_SRCDIR/tests/mkmoe/arch_check.sh"
need_driver
need_text

arch_model ds --arch deepseek2 --layers 4 --experts 16 --used 4
arch_map ds 4 1 16 1
arch_model ds_plain --arch deepseek2 --layers 3 --dense-lead 2 --shared 2 --q-lora 0 --type f16 --embd 128
arch_map ds_plain 3 2 8 2
arch_model ds_fused --arch deepseek2 --fused-gate-up --type q4_0
arch_map ds_fused 4 1 8 1
grep -q 'ffn_gate_up_exps' "$TMP/ds_fused.out" || fail "ds_fused: llama.cpp ran no ffn_gate_up_exps"
arch_routing ds_esft "$TOP_SRCDIR/data/traces/deepseekv2lite_esft_intent.trace" --arch deepseek2 --embd 64 \
    --layers 5
echo "PASS: $test_name"
