#!/bin/sh
# moetier replay: golden human output on a small real trace (the first 200
# tokens of the ESFT intent trace), the JSON fields, and bad input.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
g=$TOP_SRCDIR/tests/tiering/golden
cd "$g" || fail "no $g"
"$MOETIER" replay esft_intent_200.trace --cache 10%,25% > "$TMP/out" || fail "moetier replay exited $?"
diff -u replay_esft_intent_200.txt "$TMP/out" || fail "moetier replay differs from the golden file"

"$MOETIER" replay esft_intent_200.trace --policy lru,predict --cache 0.25 --json > "$TMP/json" ||
    fail "replay --json exited $?"
for k in '"schema":1' '"trace":"esft_intent_200.trace"' '"tokens":200' '"policy":"lru"' \
    '"policy":"predict"' '"cache_share":0.25' '"slots":416' '"accesses":31200' '"hit_rate":' \
    '"prefetch_accuracy":' '"fetches":'; do
    grep -q "$k" "$TMP/json" || fail "replay --json lacks $k: $(cat "$TMP/json")"
done
[ "$(grep -c '"policy"' "$TMP/json")" -eq 1 ] && [ "$(grep -o '"policy"' "$TMP/json" | wc -l)" -eq 2 ] ||
    fail "replay --json: expected one line with 2 results"
grep -q '"policy":"lru"[^}]*"prefetch_accuracy":null' "$TMP/json" || fail "lru has no prefetch accuracy"

"$MOETIER" replay "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" 2> "$TMP/err"
[ $? -eq 2 ] || fail "a .counts file: expected exit 2"
grep -q "no token order" "$TMP/err" || fail "counts message: $(cat "$TMP/err")"
"$MOETIER" replay esft_intent_200.trace --policy fifo 2> "$TMP/err"; [ $? -eq 2 ] || fail "--policy fifo: expected exit 2"
"$MOETIER" replay esft_intent_200.trace --cache 0 2> "$TMP/err"; [ $? -eq 2 ] || fail "--cache 0: expected exit 2"
"$MOETIER" replay esft_intent_200.trace --cache 0.01% 2> "$TMP/err"; [ $? -eq 2 ] || fail "--cache 0.01%: expected exit 2"
grep -q "less than one" "$TMP/err" || fail "tiny cache message: $(cat "$TMP/err")"
"$MOETIER" replay /nonexistent.trace 2> "$TMP/err"; [ $? -eq 2 ] || fail "missing file: expected exit 2"
"$MOETIER" replay 2> "$TMP/err"; [ $? -eq 2 ] || fail "no file: expected exit 2"
"$MOETIER" replay --help | grep -q "usage: moetier replay" || fail "--help"
echo "PASS: $test_name"
