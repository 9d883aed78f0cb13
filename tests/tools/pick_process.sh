#!/bin/sh
# Choosing the process: none is exit 1 saying so; one is picked; several are
# listed (pid, command, age, model) with exit 2 asking for a PID; a PID or a
# segment path picks one; a PID without a segment is exit 1.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

expect_exit 1 "no live moetier process of this user" "$MOETIER" stat
start_writer --comm first-one
p1=$WPID
"$MOETIER" stat --json > "$TMP/one.json" || fail "one process: exit $?"
grep -q "\"pid\":$p1," "$TMP/one.json" || fail "one process: not picked"

start_writer --comm second-one
p2=$WPID
"$MOETIER" stat --json > "$TMP/out" 2> "$TMP/err"
rc=$?
[ $rc -eq 2 ] || fail "two processes: exit $rc, expected 2"
[ ! -s "$TMP/out" ] || fail "two processes: something on stdout"
head -n 1 "$TMP/err" | grep -q "2 moetier processes are running; give a PID" || fail "list heading: $(cat "$TMP/err")"
grep -q "^ *$p1  first-one .* /models/test-moe.gguf$" "$TMP/err" || fail "list lacks $p1: $(cat "$TMP/err")"
grep -q "^ *$p2  second-one .* /models/test-moe.gguf$" "$TMP/err" || fail "list lacks $p2: $(cat "$TMP/err")"
"$MOETIER" heatmap > /dev/null 2>&1; [ $? -eq 2 ] || fail "heatmap with two processes: expected exit 2"
"$MOETIER" top --iterations 1 > /dev/null 2>&1; [ $? -eq 2 ] || fail "top with two processes: expected exit 2"

"$MOETIER" stat --json "$p2" | grep -q "\"comm\":\"second-one\"" || fail "stat PID picks the wrong one"
"$MOETIER" stat --json "$WPATH" | grep -q "\"pid\":$p2," || fail "stat SEGMENT picks the wrong one"
expect_exit 1 "publishes no moetier stats" "$MOETIER" stat $$
expect_exit 2 "No such file" "$MOETIER" stat "$TMP/none.stats"
echo "PASS: $test_name"
