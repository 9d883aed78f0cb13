#!/bin/sh
# On a terminal (a pty through script(1)) `moetier heatmap` draws 256-colour
# cells; NO_COLOR or TERM=dumb give the plain character ramp instead.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"
command -v script > /dev/null 2>&1 || skip "script(1) (util-linux) not installed: no pty to test on"

"$WRITER" profile "$TMP/p.prof" || fail "stats_writer profile failed"
esc=$(printf '\033')
TERM=xterm-256color script -qec "'$MOETIER' heatmap --width 80 '$TMP/p.prof'" /dev/null > "$TMP/color" < /dev/null ||
    fail "heatmap on a pty exited $?"
grep -q "${esc}\[48;5;[0-9]*;38;5;[0-9]*m" "$TMP/color" || fail "no 256-colour cells on a terminal: $(head -c 300 "$TMP/color")"
grep -q '^scale: 0 ' "$TMP/color" || fail "no colour scale"
NO_COLOR=1 TERM=xterm-256color script -qec "'$MOETIER' heatmap --width 80 '$TMP/p.prof'" /dev/null > "$TMP/plain" < /dev/null ||
    fail "heatmap with NO_COLOR exited $?"
grep -q "$esc" "$TMP/plain" && fail "escape codes despite NO_COLOR"
grep -q '@@' "$TMP/plain" || fail "no character ramp with NO_COLOR"
TERM=dumb script -qec "'$MOETIER' heatmap --width 80 '$TMP/p.prof'" /dev/null > "$TMP/dumb" < /dev/null
grep -q "$esc" "$TMP/dumb" && fail "escape codes on a dumb terminal"
echo "PASS: $test_name"
