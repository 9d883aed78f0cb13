#!/bin/sh
# moetier trace on the real routing files: golden human output and JSON fields.
. "$(dirname "$0")/../lib.sh"
g=$TOP_SRCDIR/tests/mkmoe/golden
cd "$TOP_SRCDIR/data/traces" || fail "no data/traces"
for f in deepseekv2lite_esft_intent.trace olmoe_counts_c4.counts; do
    "$MOETIER" trace "$f" > "$TMP/out" || fail "moetier trace $f exited $?"
    diff -u "$g/trace_$f.txt" "$TMP/out" || fail "moetier trace $f differs from the golden file"
done
"$MOETIER" trace --json mixtral_counts_c4.counts > "$TMP/json" || fail "trace --json"
diff -u "$g/trace_mixtral_counts_c4.json" "$TMP/json" || fail "trace --json differs from the golden file"
"$MOETIER" trace /nonexistent.trace 2> "$TMP/err"; [ $? -eq 2 ] || fail "missing file: expected exit 2 (bad input)"
echo "# layers=2 experts=4 topk=2" > "$TMP/empty.trace"
"$MOETIER" trace "$TMP/empty.trace" 2> "$TMP/err"; [ $? -eq 2 ] || fail "empty trace: expected exit 2"
grep -q "no token lines" "$TMP/err" || fail "empty trace message: $(cat "$TMP/err")"
echo "PASS: $test_name"
