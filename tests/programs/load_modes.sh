#!/bin/sh
# llama.cpp's own llama-completion, unmodified, with every load mode
# (--load-mode mmap, none, dio) and with and without --no-repack, on a type
# llama.cpp keeps in place (q8_0) and one it repacks on x86 (q4_0): under
# moetier with tiering forced (a quarter of the expert bytes) the output is
# byte-identical to a plain run on the same machine, all cores. The runtime
# must find the experts every time (its placement line), and where llama.cpp
# repacked them into anonymous memory on the file tier it must say once, in
# words, that they cannot be tiered there, and how to fix that.
. "$(dirname "$0")/../lib.sh"
need_program llama-completion
need_shim
need_mkmoe
completion=$prog

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off
prompt="The old lighthouse keeper looked at the sea and said"
for type in q8_0 q4_0; do
    model=$TMP/m-$type.gguf
    "$MOETIER" mkmoe "$model" --type "$type" --embd 256 --layers 4 --experts 16 --used 4 \
        --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --seed 3 -q || fail "mkmoe $type"
    eb=$(expert_bytes "$model") || exit 1
    for mode in mmap none dio; do
        for repack in "" --no-repack; do
            what="$type --load-mode $mode${repack:+ $repack}"
            set -- "$completion" -m "$model" -p "$prompt" -n 24 --temp 0 --seed 1 -t "$NPROC" -no-cnv -v \
                --load-mode "$mode" $repack
            "$@" > "$TMP/plain.out" 2> "$TMP/plain.err" || { tail -n 20 "$TMP/plain.err"; fail "plain $what exited $?"; }
            "$MOETIER" run --dram $((eb / 4)) --log debug -- "$@" > "$TMP/moe.out" 2> "$TMP/moe.err" ||
                { tail -n 20 "$TMP/moe.err"; fail "moetier $what exited $?"; }
            same_text "$TMP/plain.out" "$TMP/moe.out" ||
                { diff "$TMP/plain.out" "$TMP/moe.out" | head; fail "$what: output differs under moetier"; }
            [ "$(wc -c < "$TMP/plain.out")" -gt ${#prompt} ] || fail "$what: nothing generated"
            # the runtime placed all 12 expert tensors (4 layers x gate, up, down), wherever they are
            placed=$(grep -c 'moetier.*debug: layer [0-9]* [a-z_]* experts at' "$TMP/moe.err")
            [ "$placed" -ge 12 ] || { grep moetier "$TMP/moe.err" | head; fail "$what: $placed expert tensors placed"; }
            # llama.cpp's own account of where the weights went (the last load, not its fit probe)
            repacked=$(grep 'load_tensors: *CPU_REPACK model buffer size' "$TMP/plain.err" | tail -n 1 |
                sed -n 's/.*= *\([0-9.]*\) MiB.*/\1/p')
            said=$(grep -c 'moetier.*repacked [0-9]* expert tensors' "$TMP/moe.err")
            if [ "$mode" = mmap ] && [ -n "$repacked" ] && [ "$repacked" != 0.00 ]; then
                [ "$said" -eq 1 ] || { grep moetier "$TMP/moe.err" | grep -v debug; fail "$what: repacked experts said $said times, not once"; }
                note "$what: identical; llama.cpp repacked $repacked MiB; moetier: $(grep -o 'repacked [0-9]* expert tensors' "$TMP/moe.err")"
            else
                [ "$said" -eq 0 ] || fail "$what: a repack warning where llama.cpp repacked nothing"
                note "$what: identical; $(grep -o 'tiering: [^,]*, DRAM.*\|no expert tensor is in[^:]*' "$TMP/moe.err" | head -n 1)"
            fi
        done
    done
done
echo "PASS: $test_name"
