#!/bin/sh
# Round trip: the real segment writer publishes a known pattern, and
# `moetier stat --json` reports every field of it (golden, pids and times
# normalized), picking the one live process by itself or by PID.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --comm llama-cli
"$MOETIER" stat --json > "$TMP/auto.json" || fail "stat --json exited $?"
json_ok "$TMP/auto.json"
grep -q "\"pid\":$WPID," "$TMP/auto.json" || fail "stat --json: pid is not $WPID"
normalize < "$TMP/auto.json" > "$TMP/norm.json"
golden stat_segment.json "$TMP/norm.json"
"$MOETIER" stat --json "$WPID" > "$TMP/pid.json" || fail "stat --json PID exited $?"
cmp -s "$TMP/auto.json" "$TMP/pid.json" || fail "stat by PID differs from the picked process"
"$MOETIER" stat --json "$WPATH" > "$TMP/path.json" || fail "stat --json SEGMENT exited $?"
cmp -s "$TMP/auto.json" "$TMP/path.json" || fail "stat by segment path differs"
echo "PASS: $test_name"
