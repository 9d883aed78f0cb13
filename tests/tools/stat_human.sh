#!/bin/sh
# `moetier stat` human output: the summary and the 10 hottest experts
# (golden, with the pid, age and time normalized).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --comm llama-cli
"$MOETIER" stat > "$TMP/out" || fail "stat exited $?"
normalize < "$TMP/out" > "$TMP/norm"
golden stat_human.txt "$TMP/norm"
echo "PASS: $test_name"
