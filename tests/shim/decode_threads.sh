#!/bin/sh
# Many decode threads and concurrent free/munmap of weight buffers while
# migration rounds run (issue 14, defect 4): every read the decode threads
# make matches the file, nothing hangs (timeout) or crashes, and the engine
# really migrated meanwhile. Remap promotion (copy) first, then locking.
. "$(dirname "$0")/../lib.sh"
need_shim
[ -x "$TESTS_BIN/decode_threads" ] || TESTS_BIN=$TOP_BUILDDIR/tests/bin
fake=$TESTS_BIN/.libs/libfake_llama.so
[ -r "$fake" ] || fail "no $fake"
olmoe_model "$TMP/m.gguf"
experts=$(expert_bytes "$TMP/m.gguf") || exit 1
budget=$((experts / 4))
note "expert bytes $experts, DRAM budget $budget"
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% \
    MOETIER_LOG=info MOETIER_DRAM=$budget
for promote in copy lock; do
    MOETIER_PROMOTE=$promote LD_PRELOAD="$MOETIER_LIB" timeout 300 "$TESTS_BIN/decode_threads" "$TMP/m.gguf" \
        "$fake" 6 1500 > "$TMP/$promote.out" 2> "$TMP/$promote.err"
    rc=$?
    cat "$TMP/$promote.out"
    [ $rc -eq 124 ] && { tail -20 "$TMP/$promote.err"; fail "$promote: hung (timeout)"; }
    [ $rc -eq 0 ] || { tail -20 "$TMP/$promote.err"; fail "$promote: exit $rc (a wrong byte, or a crash)"; }
    grep -q "lock order violated" "$TMP/$promote.err" && fail "$promote: lock order violated"
    n=$(sed -n 's/.*tiering: \([0-9]*\) promotions.*/\1/p' "$TMP/$promote.err")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { tail -20 "$TMP/$promote.err"; fail "$promote: no migration ran"; }
    note "$promote: $n promotions; $(grep 'tiering: .* promotions' "$TMP/$promote.err" | sed 's/.*tiering: //')"
done
echo "PASS: $test_name"
