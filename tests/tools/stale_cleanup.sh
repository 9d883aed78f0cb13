#!/bin/sh
# A writer killed with SIGKILL leaves its segment behind; the tools notice the
# process is gone, remove the stale segment, and say no process is running.
# A writer stopped normally (SIGTERM) removes its own segment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer
kill_writer "$WPID" TERM
[ ! -e "$WPATH" ] || fail "a normal exit left $WPATH"

start_writer
dead=$WPID path=$WPATH
kill_writer "$dead" KILL
[ -e "$path" ] || fail "SIGKILL should leave the segment behind"
expect_exit 1 "no live moetier process" "$MOETIER" stat
[ ! -e "$path" ] || fail "the stale segment $path was not removed"

start_writer
dead=$WPID path=$WPATH
kill_writer "$dead" KILL
expect_exit 1 "process $dead has ended" "$MOETIER" stat "$dead"
[ ! -e "$path" ] || fail "stat PID left the stale segment $path"

# a stale segment beside a live one: only the live one is picked
start_writer
dead=$WPID path=$WPATH
kill_writer "$dead" KILL
start_writer
"$MOETIER" stat --json > "$TMP/json" || fail "stat with one live and one stale: exit $?"
grep -q "\"pid\":$WPID," "$TMP/json" || fail "the live process was not picked"
[ ! -e "$path" ] || fail "the stale segment $path was not removed"
echo "PASS: $test_name"
