#!/bin/sh
# The Kimi K2.5 grid under llama.cpp's own llama-completion, every core:
# deepseek2 with 61 blocks (1 dense lead), 384 routed + 1 shared experts,
# top-8, at a tiny width (mkmoe --like kimi-k2.5 --embd 32 --ff 256, q8_0, which
# stays in the file mapping; 580 MiB: the expert FFN is widened so that every
# expert's gate, up and down hold whole 4 KiB pages, the unit any tier moves -
# at --embd 32 alone an expert part is 1 KiB and moetier rightly says nothing
# can be tiered), with tiering forced (a quarter of the expert bytes, every
# decode step sampled): the output is identical to a plain run; all 60 x 3
# routed expert tensors are placed; the engine tiers all 60 x 384 experts and
# promotes some; the live stats segment holds the whole 60 x 384 grid.
. "$(dirname "$0")/../lib.sh"
need_program llama-completion
completion=$prog
need_shim
need_mkmoe

model=$TMP/kimi.gguf
"$MOETIER" mkmoe "$model" --like kimi-k2.5 --embd 32 --ff 256 --type q8_0 -q || fail "mkmoe --like kimi-k2.5"
eb=$(expert_bytes "$model") || exit 1
note "model $(wc -c < "$model") bytes, expert bytes $eb"
set -- "$completion" -m "$model" -p "The old lighthouse keeper looked at the sea and said" -n 24 --temp 0 --seed 1 \
    -t "$NPROC" -no-cnv
"$@" > "$TMP/plain.out" 2> "$TMP/plain.err" || { tail "$TMP/plain.err"; fail "plain run exited $?"; }
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100%
"$MOETIER" run --dram $((eb / 4)) --log debug -- "$@" > "$TMP/moe.out" 2> "$TMP/moe.err" ||
    { grep moetier "$TMP/moe.err" | grep -v debug | tail; fail "moetier run exited $?"; }
same_text "$TMP/plain.out" "$TMP/moe.out" || { diff "$TMP/plain.out" "$TMP/moe.out"; fail "output differs under moetier"; }
placed=$(grep 'moetier.*debug: layer [0-9]* [a-z_]* experts at' "$TMP/moe.err" | sed 's/ at 0x[0-9a-f]*//' | sort -u | wc -l)
[ "$placed" -eq 180 ] || fail "$placed expert tensors placed, want 60 x 3"
grep -q 'model .*: 60 MoE layers x 384 experts' "$TMP/moe.err" || fail "the runtime does not see 60 x 384"
grep -q '23040 of 23040 experts tierable' "$TMP/moe.err" || fail "not every expert tierable: $(grep -o '[0-9]* of [0-9]* experts tierable' "$TMP/moe.err")"
promoted=$(sed -n 's/.*tiering: \([0-9]*\) promotions.*/\1/p' "$TMP/moe.err")
[ -n "$promoted" ] && [ "$promoted" -gt 0 ] || fail "nothing promoted"
note "identical; 180 expert tensors placed; 23040 experts tierable; $promoted promotions"
grep 'moetier.*info: \(sampled\|tiering\)' "$TMP/moe.err" | sed "s/^/$test_name: /"
echo "PASS: $test_name"
