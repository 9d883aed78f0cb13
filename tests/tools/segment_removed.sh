#!/bin/sh
# The stats segment removed while the tools read it (issue 14, fault
# injection): `moetier top` already showing it ends with "process N ended"
# and exit 0; `moetier stat` of the removed path is one line and exit 2;
# stat by pid of a process whose segment is gone names it; no crash, no hang,
# while the writer goes on writing into its unlinked mapping.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --update
"$MOETIER" top --iterations 100000 --interval 50 "$WPATH" > "$TMP/top.out" 2> "$TMP/top.err" &
top_pid=$!
i=0
until [ -s "$TMP/top.out" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || { kill $top_pid; fail "top printed nothing"; }
    sleep 0.05
done
rm "$WPATH"
i=0
while kill -0 $top_pid 2> /dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || { kill $top_pid; fail "top did not notice the segment was removed"; }
    sleep 0.05
done
wait $top_pid
rc=$?
[ $rc -eq 0 ] || fail "top exited $rc when the segment was removed: $(cat "$TMP/top.err")"
grep -q "process $WPID ended" "$TMP/top.err" || fail "top: no message: $(cat "$TMP/top.err")"
expect_exit 2 "No such file or directory" "$MOETIER" stat "$WPATH"
"$MOETIER" stat $WPID > /dev/null 2> "$TMP/err" && fail "stat of a pid without a segment succeeded"
[ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "stat by pid: not one line: $(cat "$TMP/err")"
kill -0 "$WPID" || fail "the writer died when its segment was removed"
echo "PASS: $test_name"
