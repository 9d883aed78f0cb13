#!/bin/sh
# The routing sampler (shim/hooks_sched.c): exact routing from llama.cpp's
# eval callback, chained to the application's.
#  1. Every sampled decode step reports exactly the experts the driver's own
#     eval callback recorded for that step (the same trace line, ids in
#     ggml's order: equality, not a correlation), every step
#     (MOETIER_SAMPLE_BUDGET=100% and no period: the routing sampler's keep
#     mode is limited by the budget alone, so every step is due, whatever the
#     step time; an explicit MOETIER_SAMPLE_MS would space samples in time)
#     and at the defaults. The driver's callback
#     (--routing-out --check-routing: it asks for the topk and the router's
#     scores) still sees every tensor it asked for: its trace equals a plain
#     run's, and the tokens are identical.
#  2. With no application callback (cb_eval NULL) at the defaults: routing is
#     the sampler and the tokens are identical to a plain run's.
#  3. llama.cpp's own llama-completion at the defaults: routing, identical text.
#  4. Fallback: llama.cpp's own llama-completion told to route 2 experts a
#     token (--override-kv) where the model file says 4: the shape check
#     fails, one line names it, the other samplers take over (samples still
#     counted), and the output is identical to a plain run with the same
#     override.
# One thread on machines of 2 cores or fewer (docs/DESIGN.md section 7), else every core.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_mkmoe
need_text
threads=$NPROC
[ "$NPROC" -le 2 ] && threads=1
model=$TMP/m.gguf
"$MOETIER" mkmoe "$model" --embd 256 --layers 4 --experts 16 --used 4 \
    --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --seed 3 -q || fail "mkmoe"
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off
feed="--feed $TEXT --feed-max 300 -n 24 -t $threads"

drive "$TMP/plain" -m "$model" $feed --routing-out "$TMP/plain.trace" --check-routing
drive "$TMP/bare" -m "$model" $feed

# moetier's per-step lines ("routing: step N: ids") against trace line N
same_steps() { # NAME: prints how many steps matched; fails on any mismatch
    sed -n 's/.*debug: routing: step \([0-9]*\): \(.*\)$/\1 \2/p' "$TMP/$1.log" > "$TMP/$1.steps"
    awk 'NR == FNR { if (FNR > 1) line[FNR - 1] = $0; next }
         { s = $1; $1 = ""; sub(/^ /, ""); if (line[s] != $0) { print "step " s ": moetier " $0 ", llama.cpp " line[s]; bad++ } else ok++ }
         END { if (bad) exit 1; print ok + 0 }' "$TMP/plain.trace" "$TMP/$1.steps" > "$TMP/$1.cmp" ||
        { head -n 5 "$TMP/$1.cmp"; fail "$1: moetier's routing differs from llama.cpp's"; }
    cat "$TMP/$1.cmp"
}

for run in every defaults; do
    case $run in
    every) set -- MOETIER_SAMPLE_BUDGET=100% ;;
    defaults) set -- ROUTING_RUN=defaults ;;
    esac
    env "$@" MOETIER_LOG=debug MOETIER_LOG_FILE="$TMP/$run.log" LD_PRELOAD="$MOETIER_LIB" \
        "$LLAMA_DRIVER" --quiet -m "$model" $feed --routing-out "$TMP/$run.trace" --check-routing \
        > "$TMP/$run.out" 2> "$TMP/$run.err" || { cat "$TMP/$run.err"; fail "$run: driver exited $?"; }
    grep -q 'info: sampler: routing' "$TMP/$run.log" || { grep -v debug "$TMP/$run.log"; fail "$run: not the routing sampler"; }
    ! grep -q 'routing sampler:.*falling back' "$TMP/$run.log" || fail "$run: $(grep 'falling back' "$TMP/$run.log")"
    cmp -s "$TMP/plain.out" "$TMP/$run.out" || fail "$run: tokens differ under moetier"
    cmp -s "$TMP/plain.trace" "$TMP/$run.trace" || fail "$run: the application's callback saw other routing"
    [ "$(field "$TMP/$run.err" routing_checked)" = "$(field "$TMP/plain.err" routing_checked)" ] ||
        fail "$run: the application's callback checked $(field "$TMP/$run.err" routing_checked) choices, not $(field "$TMP/plain.err" routing_checked)"
    n=$(same_steps "$run")
    tokens=$(($(wc -l < "$TMP/plain.trace") - 1))
    [ "$n" -ge 1 ] || fail "$run: no step sampled"
    [ "$run" = defaults ] || [ "$n" -eq "$tokens" ] || fail "$run: $n of $tokens steps sampled, not every one"
    note "$run: $n of $tokens decode steps sampled, each exactly llama.cpp's routing; tokens identical; the driver's callback saw the same"
done

LD_PRELOAD="$MOETIER_LIB" MOETIER_LOG=info MOETIER_LOG_FILE="$TMP/nocb.log" drive "$TMP/nocb" -m "$model" $feed
grep -q 'info: sampler: routing' "$TMP/nocb.log" || fail "no app callback: not the routing sampler"
grep -q 'sampled [1-9][0-9]* of' "$TMP/nocb.log" || fail "no app callback: nothing sampled"
cmp -s "$TMP/bare.out" "$TMP/nocb.out" || fail "no app callback: tokens differ under moetier"
note "no application callback: $(grep -o 'sampled [0-9]* of [0-9]* decode tokens' "$TMP/nocb.log"); tokens identical"

if [ -n "${LLAMA_BINDIR:-}" ] && [ -x "$LLAMA_BINDIR/llama-completion" ]; then
    set -- "$LLAMA_BINDIR/llama-completion" -m "$model" -p "The old lighthouse keeper looked at the sea and said" \
        -n 48 --temp 0 --seed 1 -t "$threads" -no-cnv --override-kv llama.expert_used_count=int:2
    # llama.cpp's own program at the defaults: routing, steps sampled, the same text
    "$LLAMA_BINDIR/llama-completion" -m "$model" -p "The old lighthouse keeper looked at the sea and said" \
        -n 48 --temp 0 --seed 1 -t "$threads" -no-cnv > "$TMP/cplain.out" 2> "$TMP/cplain.err" ||
        { tail "$TMP/cplain.err"; fail "llama-completion exited $?"; }
    MOETIER_LOG=info MOETIER_LOG_FILE="$TMP/c.log" LD_PRELOAD="$MOETIER_LIB" "$LLAMA_BINDIR/llama-completion" -m "$model" \
        -p "The old lighthouse keeper looked at the sea and said" -n 48 --temp 0 --seed 1 -t "$threads" -no-cnv \
        > "$TMP/c.out" 2> "$TMP/c.err" || { tail "$TMP/c.err"; fail "llama-completion under moetier exited $?"; }
    cmp -s "$TMP/cplain.out" "$TMP/c.out" || fail "llama-completion: output differs under moetier"
    grep -q 'info: sampler: routing' "$TMP/c.log" || { cat "$TMP/c.log"; fail "llama-completion: not the routing sampler"; }
    ! grep -q 'falling back' "$TMP/c.log" || { cat "$TMP/c.log"; fail "llama-completion: routing fell back"; }
    # every decode step, read exactly (keep mode): the profile is the true routing (Spearman 1)
    n=$(sed -n 's/.*sampled \([0-9]*\) of \([0-9]*\) decode tokens.*/\1 \2/p' "$TMP/c.log")
    echo "$n" | awk '{ exit !(NF == 2 && $1 > 0 && $1 == $2) }' ||
        { cat "$TMP/c.log"; fail "llama-completion: not every decode step sampled ($n)"; }
    note "llama-completion: $(grep -o 'sampled [0-9]* of [0-9]* decode tokens' "$TMP/c.log"); output identical"
    "$@" > "$TMP/oplain.out" 2> "$TMP/oplain.err" || { tail "$TMP/oplain.err"; fail "llama-completion exited $?"; }
    MOETIER_SAMPLER=routing MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info \
        MOETIER_LOG_FILE="$TMP/o.log" LD_PRELOAD="$MOETIER_LIB" "$@" > "$TMP/o.out" 2> "$TMP/o.err" ||
        { tail "$TMP/o.err"; fail "llama-completion under moetier exited $?"; }
    cmp -s "$TMP/oplain.out" "$TMP/o.out" ||
        { cat "$TMP/oplain.out" "$TMP/o.out" "$TMP/o.log"; fail "fallback: output differs under moetier"; }
    [ "$(grep -c 'routing sampler: .*falling back' "$TMP/o.log")" -eq 1 ] || { cat "$TMP/o.log"; fail "fallback: not said once"; }
    grep -q 'routing sampler: ffn_moe_topk-[0-9]*: experts per token differ from expert_used_count (2, expected 4)' "$TMP/o.log" ||
        { cat "$TMP/o.log"; fail "fallback: the line does not name the check"; }
    grep -q 'info: sampler: \(pagemap\|fault\)' "$TMP/o.log" || { cat "$TMP/o.log"; fail "fallback: no other sampler"; }
    grep -q 'sampled [1-9][0-9]* of' "$TMP/o.log" || { cat "$TMP/o.log"; fail "fallback: nothing sampled after it"; }
    note "fallback: $(grep -o 'routing sampler: .*' "$TMP/o.log"); then $(grep -o 'sampler: \(pagemap\|fault\)' "$TMP/o.log" | head -n 1); output identical"
else
    note "llama-completion not built: fallback check skipped"
fi
echo "PASS: $test_name"
