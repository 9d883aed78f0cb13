#!/bin/sh
# The profiler's hit counts against the truth: the driver records llama.cpp's
# real routing (its eval callback) while it feeds 2100 tokens of varied text
# through a skew-shaped model under the preload; the Spearman rank correlation
# between moetier's per-expert hits (the profile saved at exit) and the true
# routing counts must be at least 0.9 for the page samplers, asked for by name and
# unthrottled (MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100%): pagemap on the mmap
# path, fault on the --no-mmap path; and at least 0.98 for the routing sampler (the
# default under llama.cpp) at the default settings. Every sampler's hits are its
# samples' own uses: at most top-k a layer. docs/bench-shim.md has figures.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
[ -x "$TESTS_BIN/accuracy" ] || TESTS_BIN=$TOP_BUILDDIR/tests/bin
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" -q ||
    fail "mkmoe"
for mode in mmap no-mmap routing; do
    # the page samplers by name (unthrottled); the routing sampler, the default under
    # llama.cpp, at the defaults, where it must reach 0.98
    case $mode in
    mmap) set -- MOETIER_SAMPLER=pagemap MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% ;;
    no-mmap) set -- MOETIER_SAMPLER=fault MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% ;;
    routing) set -- MOETIER_SAMPLER=auto ;;
    esac
    path=--mmap
    [ $mode = no-mmap ] && path=--no-mmap
    env "$@" MOETIER_PROFILE="$TMP/$mode.prof" MOETIER_STATS_DIR="$TMP/stats" MOETIER_LOG=info \
        LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet $path -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 2100 -n 1 \
        --routing-out "$TMP/$mode.trace" --routing-phase feed > "$TMP/$mode.out" 2> "$TMP/$mode.err" ||
        { cat "$TMP/$mode.err"; fail "$mode: llama_driver exited $?"; }
    sampler=$(sed -n 's/.*info: sampler: \([a-z]*\), .*/\1/p' "$TMP/$mode.err")
    "$TESTS_BIN/accuracy" "$TMP/$mode.trace" "$TMP/$mode.prof" > "$TMP/$mode.acc" || fail "$mode: accuracy failed"
    rho=$(field "$TMP/$mode.acc" spearman)
    note "$mode ($sampler sampler): spearman $rho; $(sed -n 's/^experts: //p' "$TMP/$mode.acc")"
    # a sample counts the experts its own step used, no more: top-k a layer
    # (the pagemap sampler once credited touches of unsampled steps: 1.6-3.2x)
    n=$(sed -n 's/.*info: sampled \([0-9]*\) of [0-9]* decode tokens.*/\1/p' "$TMP/$mode.err")
    hits=$(sed -n 's/^experts: .*, \([0-9]*\) hits over .*/\1/p' "$TMP/$mode.acc")
    per=$(head -n 1 "$TMP/$mode.trace" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["layers"] * v["topk"] }')
    [ -n "$n" ] && [ "${n:-0}" -gt 0 ] && [ -n "$hits" ] && [ "${per:-0}" -gt 0 ] ||
        fail "$mode: no sample count, hits or shape: $(cat "$TMP/$mode.err")"
    [ "$hits" -le $((n * per)) ] || fail "$mode: $hits hits in $n samples: more than $per a sample"
    [ "$hits" -ge $((n * per * 9 / 10)) ] || fail "$mode: $hits hits in $n samples: far fewer than $per a sample"
    note "$mode: $n samples, $hits hits ($per a step in truth)"
    min=0.9
    [ $mode = routing ] && min=0.98
    awk -v r="$rho" -v m=$min 'BEGIN { exit !(r >= m) }' || fail "$mode: spearman $rho < $min"
done
echo "PASS: $test_name"
