#!/bin/sh
# `moetier top` on a terminal (a pty through script(1)): the alternate screen
# and a hidden cursor while it runs, redraws in place, 'q' ends it with exit 0
# and the terminal restored (cursor shown, alternate screen left).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"
command -v script > /dev/null 2>&1 || skip "script(1) (util-linux) not installed: no pty to test on"

start_writer --update --comm llama-cli
(sleep 1.5; printf q) | TERM=xterm script -qec "'$MOETIER' top --interval 200" /dev/null > "$TMP/out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "top on a terminal exited $rc: $(tail -c 300 "$TMP/out")"
esc=$(printf '\033')
grep -q "${esc}\[?1049h${esc}\[?25l" "$TMP/out" || fail "no alternate screen / hidden cursor"
frames=$(grep -o "${esc}\[H" "$TMP/out" | wc -l)
[ "$frames" -ge 3 ] || fail "expected several frames in 1.5 s, got $frames"
tail -c 40 "$TMP/out" | grep -q "${esc}\[?25h${esc}\[?1049l" || fail "terminal not restored at the end"
NO_COLOR=1 timeout 10 sh -c "(sleep 0.5; printf q) | TERM=xterm script -qec \"'$MOETIER' top --interval 100\" /dev/null" > "$TMP/nc" 2>&1
grep -q "${esc}\[1m" "$TMP/nc" && fail "bold (colour) escapes despite NO_COLOR"
grep -q "${esc}\[H" "$TMP/nc" || fail "NO_COLOR should still redraw in place"
echo "PASS: $test_name"
