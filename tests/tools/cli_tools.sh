#!/bin/sh
# The live-stats commands follow the moetier conventions: listed by
# `moetier --help`, a usage line on --help, exit 2 with one line for bad usage.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

"$MOETIER" --help > "$TMP/help" || fail "moetier --help exited $?"
for cmd in run stat top heatmap profile doctor; do
    grep -q "^  $cmd " "$TMP/help" || fail "moetier --help does not list $cmd"
    "$MOETIER" $cmd --help > "$TMP/h" 2>&1 || fail "moetier $cmd --help exited $?"
    grep -q "^usage: moetier $cmd" "$TMP/h" || fail "moetier $cmd --help: no usage line"
done
expect_exit 2 "unknown option '--frob'" "$MOETIER" stat --frob
expect_exit 2 "exclude each other" "$MOETIER" stat --json --prometheus
expect_exit 2 "one process at a time" "$MOETIER" stat 1 2
expect_exit 2 "--interval 'x'" "$MOETIER" top --interval x
expect_exit 2 "--iterations '0'" "$MOETIER" top --iterations 0
expect_exit 2 "--format 'gif'" "$MOETIER" heatmap --format gif
expect_exit 2 "--width '5'" "$MOETIER" heatmap --width 5
expect_exit 2 "unknown subcommand 'frob'" "$MOETIER" profile frob
expect_exit 2 "exactly one profile" "$MOETIER" profile show
expect_exit 2 "not a process id" "$MOETIER" stat 99999999999
expect_exit 2 "unexpected argument" "$MOETIER" doctor model.gguf extra
"$MOETIER" profile > /dev/null 2>&1; [ $? -eq 2 ] || fail "profile without a subcommand: expected exit 2"
echo "PASS: $test_name"
