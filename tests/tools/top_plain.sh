#!/bin/sh
# `moetier top` on a pipe prints plain snapshots (no escape codes), one per
# interval, following the process (its decode count moves); --iterations ends
# it; a process that ends while watched ends the view with exit 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --update --comm llama-cli
TERM=xterm "$MOETIER" top --iterations 2 --interval 300 > "$TMP/out" 2> "$TMP/err" || fail "top exited $?"
[ "$(grep -c '^moetier top  pid' "$TMP/out")" -eq 2 ] || fail "expected 2 snapshots: $(cat "$TMP/out")"
grep -q "$(printf '\033')" "$TMP/out" && fail "escape codes on a pipe"
grep -q '^hottest experts' "$TMP/out" || fail "no hottest experts"
grep -q '^      8      2/8 ' "$TMP/out" || fail "no per-layer line for block 8"
d1=$(sed -n 's/.*decode \([0-9]*\) .*/\1/p' "$TMP/out" | sed -n 1p)
d2=$(sed -n 's/.*decode \([0-9]*\) .*/\1/p' "$TMP/out" | sed -n 2p)
[ -n "$d1" ] && [ -n "$d2" ] && [ "$d2" -gt "$d1" ] || fail "decode count did not move: $d1 -> $d2"
[ ! -s "$TMP/err" ] || fail "stderr: $(cat "$TMP/err")"

# the watched process ends
"$MOETIER" top --interval 100 --iterations 1000 "$WPID" > "$TMP/out2" 2> "$TMP/err2" &
top_pid=$!
sleep 0.5
kill_writer "$WPID" TERM
i=0
while kill -0 "$top_pid" 2> /dev/null; do
    i=$((i + 1))
    [ $i -le 50 ] || { kill "$top_pid"; fail "top did not notice the process ended"; }
    sleep 0.1
done
wait "$top_pid"
rc=$?
[ $rc -eq 0 ] || fail "top exited $rc when the process ended"
grep -q "ended" "$TMP/err2" || fail "no message when the process ended: $(cat "$TMP/err2")"

# SIGTERM ends it cleanly too
start_writer
"$MOETIER" top --interval 100 > /dev/null 2>&1 &
top_pid=$!
sleep 0.3
kill -TERM "$top_pid"
wait "$top_pid"
rc=$?
[ $rc -eq 0 ] || fail "top exited $rc on SIGTERM"
echo "PASS: $test_name"
