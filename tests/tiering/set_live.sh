#!/bin/sh
# moetier set retunes a running process: a smaller DRAM budget demotes at once
# (stat shows the cache within it), a new policy is in force (stat), bad
# values are refused with exit 2, and the tokens stay identical to a run
# without moetier.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

olmoe_model "$TMP/m.gguf"
drive "$TMP/plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 2000 -n 16
want=$(field "$TMP/plain.out" tokens)

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info
MOETIER_DRAM=24M LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" \
    --feed-max 2000 -n 16 > "$TMP/shim.out" 2> "$TMP/shim.err" &
pid=$!
dram() { "$MOETIER" stat $pid --json 2> /dev/null | sed -n 's/.*"dram":{"bytes":\([0-9]*\).*/\1/p'; }
i=0
while [ $i -lt 300 ]; do
    kill -0 $pid 2> /dev/null || { cat "$TMP/shim.err"; fail "the driver ended before anything was promoted"; }
    d=$(dram)
    [ -n "$d" ] && [ "$d" -gt 8388608 ] && break
    sleep 0.1
    i=$((i + 1))
done
[ $i -lt 300 ] || { kill $pid; fail "the cache never filled past 8 MiB"; }

"$MOETIER" set $pid --dram 4M > "$TMP/set.out" 2>&1 || { kill $pid; fail "set --dram: $(cat "$TMP/set.out")"; }
grep -q "DRAM budget 24.00 MiB -> 4.00 MiB" "$TMP/set.out" || { kill $pid; fail "set --dram said: $(cat "$TMP/set.out")"; }
d=$(dram)
[ -n "$d" ] && [ "$d" -le 4194304 ] || { kill $pid; fail "after set --dram 4M the cache holds $d bytes"; }
"$MOETIER" set $pid --policy lru --migrate-mbps 64 > "$TMP/set2.out" 2>&1 || { kill $pid; fail "set --policy: $(cat "$TMP/set2.out")"; }
"$MOETIER" stat $pid --json | grep -q '"policy":"lru"' || { kill $pid; fail "policy lru not in force"; }
"$MOETIER" set $pid --policy bogus > "$TMP/bad.out" 2>&1
[ $? -eq 1 ] || { kill $pid; fail "an unknown policy was not refused: $(cat "$TMP/bad.out")"; }
"$MOETIER" set $pid --dram lots > "$TMP/bad2.out" 2>&1
[ $? -eq 2 ] || { kill $pid; fail "--dram lots: not a usage error"; }
"$MOETIER" set $pid > /dev/null 2>&1
[ $? -eq 2 ] || { kill $pid; fail "set with nothing to set: not a usage error"; }
note "$(cat "$TMP/set.out"); $(cat "$TMP/set2.out")"
wait $pid || { cat "$TMP/shim.err"; fail "driver failed"; }
[ "$want" = "$(field "$TMP/shim.out" tokens)" ] || fail "tokens differ after retuning"
grep -q "cache peak" "$TMP/shim.err" || fail "no exit summary"
echo "PASS: $test_name"
