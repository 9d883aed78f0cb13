#!/bin/sh
# The profiler's hit counts against the truth: the driver records llama.cpp's
# real routing (its eval callback) while it feeds 2100 tokens of varied text
# through a skew-shaped model under the preload; the Spearman rank correlation
# between moetier's per-expert hits (the profile saved at exit) and the true
# routing counts must be at least 0.9, for the default sampler on the mmap path
# (pagemap) and on the --no-mmap path (fault). MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% samples
# (nearly) every token; docs/profiler.md has the default period's figures.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
[ -x "$TESTS_BIN/accuracy" ] || TESTS_BIN=$TOP_BUILDDIR/tests/bin
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" -q ||
    fail "mkmoe"
for mode in mmap no-mmap; do
    MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_PROFILE="$TMP/$mode.prof" MOETIER_STATS_DIR="$TMP/stats" MOETIER_LOG=info \
        LD_PRELOAD="$MOETIER_LIB" drive "$TMP/$mode" --$mode -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 2100 -n 1 \
        --routing-out "$TMP/$mode.trace" --routing-phase feed
    sampler=$(sed -n 's/.*info: sampler: \([a-z]*\), .*/\1/p' "$TMP/$mode.err")
    "$TESTS_BIN/accuracy" "$TMP/$mode.trace" "$TMP/$mode.prof" > "$TMP/$mode.acc" || fail "$mode: accuracy failed"
    rho=$(field "$TMP/$mode.acc" spearman)
    note "$mode ($sampler sampler): spearman $rho; $(sed -n 's/^experts: //p' "$TMP/$mode.acc")"
    awk -v r="$rho" 'BEGIN { exit !(r >= 0.9) }' || fail "$mode: spearman $rho < 0.9"
done
echo "PASS: $test_name"
