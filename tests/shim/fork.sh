#!/bin/sh
# fork in a tiered process: the child stays consistent (reads the weights,
# exits through its atexit handlers) and never removes or overwrites the
# parent's stats segment or profile; the parent's segment goes at its own exit.
. "$(dirname "$0")/../lib.sh"
need_shim
[ -x "$TESTS_BIN/fork_child" ] || TESTS_BIN=$TOP_BUILDDIR/tests/bin
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 64 -q || fail "mkmoe"
MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off LD_PRELOAD="$MOETIER_LIB" \
    "$TESTS_BIN/fork_child" "$TMP/m.gguf" "$TMP/stats" > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "fork_child"; }
cat "$TMP/out"
[ -z "$(ls "$TMP/stats" 2>/dev/null)" ] || fail "segment left behind after the parent's exit: $(ls "$TMP/stats")"
echo "PASS: $test_name"
