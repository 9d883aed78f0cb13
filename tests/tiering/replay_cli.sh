#!/bin/sh
# moetier replay: golden human output on a small real trace (the first 200
# tokens of the ESFT intent trace), the JSON fields, the byte accounting,
# --policy auto and --prefetch-gate, and bad input.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
g=$TOP_SRCDIR/tests/tiering/golden
cd "$g" || fail "no $g"
"$MOETIER" replay esft_intent_200.trace --cache 10%,25% > "$TMP/out" || fail "moetier replay exited $?"
diff -u replay_esft_intent_200.txt "$TMP/out" || fail "moetier replay differs from the golden file"

"$MOETIER" replay esft_intent_200.trace --policy lru,predict --cache 0.25 --json > "$TMP/json" ||
    fail "replay --json exited $?"
for k in '"schema":2' '"trace":"esft_intent_200.trace"' '"tokens":200' '"policy":"lru"' \
    '"policy":"predict"' '"cache_share":0.25' '"slots":416' '"accesses":31200' '"hit_rate":' \
    '"prefetch_accuracy":' '"fetches":' '"slow_reads":' '"slow_reads_per_token":' \
    '"slow_bytes_per_token":null' '"vs_belady":null' '"expert_bytes":null' '"auto":"'; do
    grep -q "$k" "$TMP/json" || fail "replay --json lacks $k: $(cat "$TMP/json")"
done
[ "$(grep -c '"policy"' "$TMP/json")" -eq 1 ] && [ "$(grep -o '"policy"' "$TMP/json" | wc -l)" -eq 2 ] ||
    fail "replay --json: expected one line with 2 results"
grep -q '"policy":"lru"[^}]*"prefetch_accuracy":null' "$TMP/json" || fail "lru has no prefetch accuracy"
# a prefetch is a read: predict's reads are its misses plus its prefetches
sed 's/},{/}\n{/g' "$TMP/json" | grep '"policy":"predict"' | awk '
    { match($0, /"accesses":[0-9]*/); a = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /"hits":[0-9]*/); h = substr($0, RSTART + 7, RLENGTH - 7)
      match($0, /"prefetched":[0-9]*/); p = substr($0, RSTART + 13, RLENGTH - 13)
      match($0, /"slow_reads":[0-9]*/); r = substr($0, RSTART + 13, RLENGTH - 13)
      exit !(p > 0 && r == a - h + p) }' || fail "predict's slow_reads are not misses + prefetches: $(cat "$TMP/json")"

# auto: the runtime's own default for a copy cache, named as what it resolves to;
# bytes with an expert size, against belady
"$MOETIER" replay esft_intent_200.trace --policy auto,belady --cache 10% --expert-size 4M > "$TMP/auto" ||
    fail "replay --policy auto exited $?"
grep -q '^auto=[a-z]' "$TMP/auto" || fail "no auto=NAME row: $(cat "$TMP/auto")"
grep -q 'slow-tier MiB per token (x belady), expert = 4.00 MiB' "$TMP/auto" || fail "no MiB heading: $(cat "$TMP/auto")"
"$MOETIER" replay esft_intent_200.trace --policy auto,belady --cache 10% --expert-size 4M --json > "$TMP/json" ||
    fail "replay --policy auto --json exited $?"
for k in '"policy":"auto"' '"expert_bytes":4194304' '"slow_bytes_per_token":[0-9]' '"vs_belady":[0-9]'; do
    grep -q "$k" "$TMP/json" || fail "replay --json lacks $k: $(cat "$TMP/json")"
done
grep -q '"prefetch_gate":null' "$TMP/json" || fail "replay --json without a gate: $(cat "$TMP/json")"
"$MOETIER" replay esft_intent_200.trace --expert-size 0 2> "$TMP/err"; [ $? -eq 2 ] || fail "--expert-size 0: expected exit 2"

# --prefetch-gate: every policy but belady reads the likely next-layer experts ahead; a prefetch is a read
"$MOETIER" replay esft_intent_200.trace --policy lru,belady --cache 25% --prefetch-gate 0.5 --json > "$TMP/json" ||
    fail "replay --prefetch-gate exited $?"
grep -q '"prefetch_gate":0.5' "$TMP/json" || fail "replay --json lacks the gate: $(cat "$TMP/json")"
grep -q '"policy":"belady"[^}]*"prefetched":0,' "$TMP/json" || fail "belady prefetched: $(cat "$TMP/json")"
sed 's/},{/}\n{/g' "$TMP/json" | grep '"policy":"lru"' | awk '
    { match($0, /"accesses":[0-9]*/); a = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /"hits":[0-9]*/); h = substr($0, RSTART + 7, RLENGTH - 7)
      match($0, /"prefetched":[0-9]*/); p = substr($0, RSTART + 13, RLENGTH - 13)
      match($0, /"prefetch_used":[0-9]*/); u = substr($0, RSTART + 16, RLENGTH - 16)
      match($0, /"slow_reads":[0-9]*/); r = substr($0, RSTART + 13, RLENGTH - 13)
      exit !(p > 0 && u > 0 && u <= p && r == a - h + p) }' ||
    fail "gated lru: no prefetch used, or reads are not misses + prefetches: $(cat "$TMP/json")"
"$MOETIER" replay esft_intent_200.trace --policy lru,belady --cache 25% --prefetch-gate 0.5 > "$TMP/out" ||
    fail "replay --prefetch-gate (text) exited $?"
grep -q '^prefetch gated at 0.5' "$TMP/out" && grep -q '^ahead  *0\.[0-9]*$' "$TMP/out" ||
    fail "replay --prefetch-gate: no prefetch rows: $(cat "$TMP/out")"
for g in 0 1.5 x; do
    "$MOETIER" replay esft_intent_200.trace --prefetch-gate $g 2> "$TMP/err"
    [ $? -eq 2 ] || fail "--prefetch-gate $g: expected exit 2"
done

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
