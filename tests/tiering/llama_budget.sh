#!/bin/sh
# The real llama.cpp under a DRAM budget of a quarter of the expert bytes, on
# the file tier: tokens identical to a run without moetier (same run, same
# machine), migrations reported live by `moetier stat --json` with the cache
# never above its budget, and the exit summary saying what the engine did.
# Then the policies and the rate limit, each with identical tokens.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

olmoe_model "$TMP/m.gguf"
experts=$(expert_bytes "$TMP/m.gguf") || exit 1
budget=$((experts / 4))
note "expert bytes $experts, DRAM budget $budget"

drive "$TMP/plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 1500 -n 24
want=$(field "$TMP/plain.out" tokens)
[ -n "$want" ] || fail "no tokens without the preload"

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info
MOETIER_DRAM=$budget LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" \
    --feed-max 1500 -n 24 > "$TMP/shim.out" 2> "$TMP/shim.err" &
pid=$!
seen= over=
i=0
while [ $i -lt 300 ] && kill -0 $pid 2> /dev/null; do
    if "$MOETIER" stat $pid --json > "$TMP/stat.try" 2> /dev/null; then
        cp "$TMP/stat.try" "$TMP/stat.json" # keep the last good reading once the process ends
        p=$(sed -n 's/.*"promotions":\([0-9]*\).*/\1/p' "$TMP/stat.json")
        used=$(sed -n 's/.*"dram":{"bytes":\([0-9]*\).*/\1/p' "$TMP/stat.json")
        [ -n "$used" ] && [ "$used" -gt "$budget" ] && over="$used"
        [ -n "$p" ] && [ "$p" -gt 0 ] && seen=$p
    fi
    sleep 0.1
    i=$((i + 1))
done
wait $pid || { cat "$TMP/shim.err"; fail "driver failed under the preload"; }
got=$(field "$TMP/shim.out" tokens)
[ "$want" = "$got" ] || fail "tokens differ under a DRAM budget: [$want] vs [$got]"
[ -n "$seen" ] || { cat "$TMP/shim.err"; fail "moetier stat never showed a promotion: $(head -c 600 "$TMP/stat.json")"; }
[ -z "$over" ] || fail "stat showed $over cache bytes, over the $budget budget"
# auto: hot when the file tier locks the page cache (root, or a memlock limit above the budget), else adapt
pol=adapt
grep -q "promotion by locking the page cache" "$TMP/shim.err" && pol=hot
grep -q "\"policy\":\"$pol\"" "$TMP/stat.json" || fail "stat: policy not $pol: $(head -c 800 "$TMP/stat.json")"
summary=$(grep "tiering: [0-9]* promotions" "$TMP/shim.err") || { cat "$TMP/shim.err"; fail "no exit summary"; }
note "identical tokens; stat saw $seen promotions; $summary"

# each policy, and a rate limit: identical tokens, migrations happen
drive "$TMP/plain600" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 600 -n 24
want=$(field "$TMP/plain600.out" tokens)
for pol in lru lfu; do
    MOETIER_DRAM=$budget MOETIER_POLICY=$pol LD_PRELOAD="$MOETIER_LIB" drive "$TMP/$pol" -m "$TMP/m.gguf" \
        --feed "$TEXT" --feed-max 600 -n 24
    [ "$want" = "$(field "$TMP/$pol.out" tokens)" ] || fail "$pol: tokens differ"
    grep -q "policy $pol" "$TMP/$pol.err" || fail "$pol: not in force: $(cat "$TMP/$pol.err")"
    grep -q "tiering: [1-9][0-9]* promotions" "$TMP/$pol.err" || fail "$pol: nothing promoted: $(cat "$TMP/$pol.err")"
done
MOETIER_DRAM=$budget MOETIER_MIGRATE_MBPS=2 LD_PRELOAD="$MOETIER_LIB" drive "$TMP/slow" -m "$TMP/m.gguf" \
    --feed "$TEXT" --feed-max 600 -n 24
[ "$want" = "$(field "$TMP/slow.out" tokens)" ] || fail "rate-limited: tokens differ"
echo "PASS: $test_name"
