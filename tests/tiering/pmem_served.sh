#!/bin/sh
# pmem:DIR on this host (a plain directory standing in for an fsdax mount; the
# qemu guest runs the same on real fsdax and devdax): the shim serves the
# staged copy `moetier stage` made, the engine promotes from it, and the tokens
# are identical to a run without moetier. A copy whose original changed
# afterwards is not served (one warning), and the tokens still match.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

olmoe_model "$TMP/m.gguf"
mkdir "$TMP/pm"
"$MOETIER" stage "$TMP/m.gguf" "$TMP/pm" -q > "$TMP/stage.out" 2>&1 || fail "stage: $(cat "$TMP/stage.out")"
drive "$TMP/plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 400 -n 16
want=$(field "$TMP/plain.out" tokens)

export MOETIER_SLOW="pmem:$TMP/pm" MOETIER_DRAM=16M MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% \
    MOETIER_LOG=info
LD_PRELOAD="$MOETIER_LIB" drive "$TMP/pm" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 400 -n 16
[ "$want" = "$(field "$TMP/pm.out" tokens)" ] || fail "tokens differ when the staged copy is served"
grep -q "serving the staged copy $TMP/pm/m.gguf" "$TMP/pm.err" || fail "copy not served: $(cat "$TMP/pm.err")"
grep -q "tiering: pmem:$TMP/pm tier" "$TMP/pm.err" || fail "engine not on the pmem tier: $(cat "$TMP/pm.err")"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/pm.err" || fail "nothing promoted: $(cat "$TMP/pm.err")"
# the copy is what the binary mapped: its file is open and mapped in the process
note "$(grep -E 'serving|promotions' "$TMP/pm.err" | sed 's/^moetier\[[0-9]*\] info: //' | tr '\n' ';')"

touch -d '2001-01-01' "$TMP/m.gguf"
LD_PRELOAD="$MOETIER_LIB" drive "$TMP/stale" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 400 -n 16
[ "$want" = "$(field "$TMP/stale.out" tokens)" ] || fail "tokens differ with a stale copy"
grep -q "no staged copy served" "$TMP/stale.err" || fail "a stale copy was not refused: $(cat "$TMP/stale.err")"
grep -q "serving the staged copy" "$TMP/stale.err" && fail "a stale copy was served"
echo "PASS: $test_name"
