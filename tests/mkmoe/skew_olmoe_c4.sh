#!/bin/sh
# Router shaping, measured with the real llama.cpp: a model shaped from
# olmoe_counts_c4.counts, fed 2100 tokens of varied text one at a time, must
# show a hottest-10% share of (layer, expert) accesses within 0.05 of the
# counts file's. Also checks the shaping moves routing: the same model without
# --routing must be measurably less skewed than this target (for c4, the
# target is close to uniform's, so compare against a more skewed file too).
. "$(dirname "$0")/../lib.sh"
need_driver
need_text

share() { "$MOETIER" trace --json "$1" | sed -n 's/.*"hot_share_10":\([0-9.e-]*\).*/\1/p'; }

measure() { # measure NAME COUNTS-OR-TRACE [mkmoe options]
    name=$1 file=$2
    shift 2
    "$MOETIER" mkmoe "$TMP/$name.gguf" --routing "$file" -q "$@" || fail "mkmoe --routing $file"
    drive "$TMP/$name" -m "$TMP/$name.gguf" -n 1 --feed "$TEXT" --feed-max 2100 \
        --routing-out "$TMP/$name.trace" --routing-phase feed
    want=$(share "$file")
    got=$(share "$TMP/$name.trace")
    [ -n "$want" ] && [ -n "$got" ] || fail "$name: could not read hot_share_10 ($want, $got)"
    note "$name: target hottest-10% share $want, measured with llama.cpp $got"
    awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05) }' ||
        fail "$name: measured share $got is not within 0.05 of $want"
}

measure olmoe_c4 "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --embd 128
# a strongly skewed target (ESFT, 26 x 64, top-6: 0.284) on a narrow model
measure esft_intent "$TOP_SRCDIR/data/traces/deepseekv2lite_esft_intent.trace" --embd 64 --layers 8
echo "PASS: $test_name"
