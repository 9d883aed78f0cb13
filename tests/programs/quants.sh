#!/bin/sh
# The seed's architectures and quantizations under llama.cpp's own programs:
# mkmoe writes f16 deepseek2 (leading dense layer, shared expert, MLA, sigmoid
# gating with the selection bias) and qwen3moe models, llama.cpp's own
# llama-quantize makes Q4_K_M, Q2_K, Q6_K, IQ4_NL and MXFP4_MOE of them, and
# llama-completion (every core) runs each plain and under moetier with tiering
# forced (a quarter of the expert bytes), with llama.cpp's repacking on and off.
# For every case: identical output; the runtime placed every routed expert
# tensor; where llama.cpp repacked experts (its own CPU_REPACK buffer size) moetier
# says so once with the fix, and without repacking the file tier tiers them
# (experts promoted). Each line of the log is one row of docs/programs.md.
. "$(dirname "$0")/../lib.sh"
need_program llama-quantize
quantize=$prog
need_program llama-completion
completion=$prog
need_shim
need_mkmoe

# every decode step sampled, so the engine has seen routing before its first round
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100%
prompt="The old lighthouse keeper looked at the sea and said"
routing=$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts
cases="deepseek2:Q4_K_M deepseek2:Q2_K deepseek2:Q6_K deepseek2:IQ4_NL deepseek2:MXFP4_MOE qwen3moe:Q4_K_M qwen3moe:IQ4_NL"
for c in $cases; do
    arch=${c%%:*} quant=${c#*:}
    f16=$TMP/$arch-f16.gguf
    [ -f "$f16" ] || "$MOETIER" mkmoe "$f16" --arch "$arch" --type f16 --kquant --embd 256 --layers 4 --experts 16 \
        --used 4 --routing "$routing" --seed 3 -q || fail "mkmoe --arch $arch"
    model=$TMP/$arch-$quant.gguf
    "$quantize" "$f16" "$model" "$quant" > "$TMP/quantize.log" 2>&1 || { tail "$TMP/quantize.log"; fail "llama-quantize $arch $quant"; }
    eb=$(expert_bytes "$model") || exit 1
    ntensors=$("$MOETIER" inspect --json "$model" | grep -o '"[a-z_]*_exps' | sort -u | wc -l)
    nmoe=$("$MOETIER" inspect --json "$model" | sed -n 's/.*"n_layers":\([0-9]*\).*/\1/p' | head -n 1)
    for repack in "" --no-repack; do
        what="$arch $quant${repack:+ $repack}"
        set -- "$completion" -m "$model" -p "$prompt" -n 48 --temp 0 --seed 1 -t "$NPROC" -no-cnv -v $repack
        "$@" > "$TMP/plain.out" 2> "$TMP/plain.err" || { tail -n 20 "$TMP/plain.err"; fail "plain $what exited $?"; }
        "$MOETIER" run --dram $((eb / 4)) --log debug -- "$@" > "$TMP/moe.out" 2> "$TMP/moe.err" ||
            { tail -n 20 "$TMP/moe.err"; fail "moetier $what exited $?"; }
        same_text "$TMP/plain.out" "$TMP/moe.out" || { diff "$TMP/plain.out" "$TMP/moe.out" | head; fail "$what: output differs"; }
        placed=$(grep 'moetier.*debug: layer [0-9]* [a-z_]* experts at' "$TMP/moe.err" | sed 's/ at 0x[0-9a-f]*//' | sort -u | wc -l)
        [ "$placed" -ge $((nmoe * ntensors)) ] ||
            fail "$what: $placed expert tensor placements, want $nmoe layers x $ntensors tensors"
        repacked=$(grep 'load_tensors: *CPU_REPACK model buffer size' "$TMP/plain.err" | tail -n 1 | sed -n 's/.*= *\([0-9.]*\) MiB.*/\1/p')
        said=$(grep -c 'moetier.*repacked [0-9]* expert tensors' "$TMP/moe.err")
        tiering=$(grep -o 'experts tierable' "$TMP/moe.err" > /dev/null && grep -o '[0-9]* of [0-9]* experts tierable' "$TMP/moe.err")
        promoted=$(sed -n 's/.*tiering: \([0-9]*\) promotions.*/\1/p' "$TMP/moe.err")
        if [ -n "$repacked" ] && [ "$repacked" != 0.00 ]; then
            [ "$said" -eq 1 ] || fail "$what: llama.cpp repacked $repacked MiB; moetier said it $said times"
            row="repacked $repacked MiB ($(grep -o 'repacked [0-9]* expert tensors' "$TMP/moe.err")); ${tiering:-0 tierable}"
        else
            [ "$said" -eq 0 ] || fail "$what: a repack warning where llama.cpp repacked nothing"
            [ -n "$promoted" ] && [ "$promoted" -gt 0 ] || { grep 'moetier.*info' "$TMP/moe.err"; fail "$what: nothing promoted"; }
            row="in the file mapping; $tiering; $promoted promotions"
        fi
        types=$("$MOETIER" inspect "$model" | sed -n '/per-expert bytes/{n;n;p}' | tr -s ' ')
        note "$what: identical; experts [$types]; $row"
    done
done
echo "PASS: $test_name"
