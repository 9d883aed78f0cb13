#!/bin/sh
# Greedy decoding is deterministic: two runs of the driver in the same
# environment generate the same tokens and record the same routing.
. "$(dirname "$0")/../lib.sh"
need_driver
need_mkmoe
need_text

for type in q4_0 f16; do
    model=$TMP/moe-$type.gguf
    mkmodel "$model" "$type"
    for run in 1 2; do
        drive "$TMP/$type-$run" -m "$model" -n 24 --feed "$TEXT" --feed-max 64 \
            --routing-out "$TMP/$type-$run.trace"
    done
    a=$(field "$TMP/$type-1.out" tokens)
    b=$(field "$TMP/$type-2.out" tokens)
    [ -n "$a" ] || fail "$type: no tokens line"
    [ "$a" = "$b" ] || fail "$type: two runs generated different tokens: '$a' vs '$b'"
    cmp -s "$TMP/$type-1.out" "$TMP/$type-2.out" || fail "$type: stdout differs between runs"
    cmp -s "$TMP/$type-1.trace" "$TMP/$type-2.trace" || fail "$type: routing differs between runs"
    note "$type: tokens $a (identical in both runs, routing identical)"
done
exit 0
