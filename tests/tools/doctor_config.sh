#!/bin/sh
# `moetier doctor --config`: every variable with its effective value and its
# source (default, env, env (invalid, default used) with the reason) and help;
# exit 0, or 2 with the message when MOETIER_STRICT is on and a value is bad.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"
unset MOETIER_STATS_DIR

"$MOETIER" doctor --config > "$TMP/def" || fail "doctor --config exited $?"
n=$(grep -c '^MOETIER_[A-Z_]* ' "$TMP/def")
[ "$n" -ge 17 ] || fail "only $n variables listed"
[ "$(grep '^MOETIER_' "$TMP/def" | grep -vc ' default$')" -eq 0 ] || fail "a clean environment shows non-default sources"
grep -q '^MOETIER_DRAM  *50%  *default$' "$TMP/def" || fail "MOETIER_DRAM default"
grep -q '^    DRAM cache budget: .*; moetier run --dram$' "$TMP/def" || fail "MOETIER_DRAM help line"

MOETIER_DRAM=64G MOETIER_SLOW=numa:1 MOETIER_SAMPLE_MS=banana "$MOETIER" doctor --config > "$TMP/env" 2> "$TMP/err" ||
    fail "doctor --config with a bad value exited $? (MOETIER_STRICT off: expected 0)"
[ ! -s "$TMP/err" ] || fail "warnings on stderr: $(cat "$TMP/err")"
grep -q '^MOETIER_DRAM  *64.00 GiB  *env$' "$TMP/env" || fail "MOETIER_DRAM from env: $(grep DRAM "$TMP/env")"
grep -q '^MOETIER_SLOW  *numa:1  *env$' "$TMP/env" || fail "MOETIER_SLOW from env"
grep -q '^MOETIER_SAMPLE_MS  *20  *env (invalid, default used)$' "$TMP/env" || fail "invalid MOETIER_SAMPLE_MS"
grep -q '^    rejected: MOETIER_SAMPLE_MS="banana": ' "$TMP/env" || fail "no reason for the rejected value"
grep -q '^1 invalid value' "$TMP/env" || fail "no summary of invalid values"

MOETIER_SAMPLE_MS=banana "$MOETIER" doctor --config --json > "$TMP/json" || fail "doctor --config --json exited $?"
json_ok "$TMP/json"
grep -q '^{"schema":1,"strict":false,"invalid":1,"variables":\[' "$TMP/json" || fail "JSON head: $(head -c 80 "$TMP/json")"
grep -q '"name":"MOETIER_SAMPLE_MS","flag":"--sample-ms","value":"20","source":"env (invalid, default used)","env":"banana","error":"MOETIER_SAMPLE_MS=\\"banana\\": ' "$TMP/json" ||
    fail "JSON entry of the invalid variable"

MOETIER_STRICT=1 MOETIER_SAMPLE_MS=banana "$MOETIER" doctor --config > /dev/null 2> "$TMP/err"
rc=$?
[ $rc -eq 2 ] || fail "strict with a bad value: exit $rc, expected 2"
grep -q '^moetier doctor: MOETIER_SAMPLE_MS="banana": .*MOETIER_STRICT is on' "$TMP/err" || fail "strict message: $(cat "$TMP/err")"
MOETIER_STRICT=1 "$MOETIER" doctor --config > /dev/null || fail "strict with good values: exit $?"
echo "PASS: $test_name"
