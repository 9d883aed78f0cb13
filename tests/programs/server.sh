#!/bin/sh
# llama.cpp's own, unmodified llama-server under `moetier run` with a DRAM
# budget of a quarter of the expert bytes, all cores: greedy completions over
# HTTP (several prompts one after another, then two at once) return the same
# tokens as a plain server on the same machine; `moetier stat` and
# `moetier top` follow the server; `moetier set` retunes it live; SIGTERM
# shuts it down cleanly (exit 0, moetier's exit summary in its log).
. "$(dirname "$0")/../lib.sh"
need_program llama-server
need_shim
need_mkmoe
server=$prog

model=$TMP/m.gguf
olmoe_model "$model"
eb=$(expert_bytes "$model") || exit 1
quarter=$((eb / 4))

. "$(dirname "$0")/server_lib.sh"

start_server plain
requests "$plain_port" "$TMP/plain.tok"
stop_server plain "$plain_pid"

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off
start_server moe --dram "$quarter" --log info
requests "$moe_port" "$TMP/moe.tok"
if ! cmp -s "$TMP/plain.tok" "$TMP/moe.tok"; then
    diff "$TMP/plain.tok" "$TMP/moe.tok"
    fail "llama-server's tokens differ under moetier"
fi
note "$(wc -l < "$TMP/moe.tok") completions identical (4 sequential, 2 at once)"

# stat and top follow the server (its decode count is what the requests made)
"$MOETIER" stat "$moe_pid" --json > "$TMP/stat.json" 2> "$TMP/stat.err" || fail "stat: $(cat "$TMP/stat.err")"
dec=$(sed -n 's/.*"tokens":{"decode":\([0-9]*\).*/\1/p' "$TMP/stat.json")
[ -n "$dec" ] && [ "$dec" -gt 0 ] || fail "stat shows no decode steps: $(head -c 600 "$TMP/stat.json")"
grep -q '"budget":'"$quarter"'}' "$TMP/stat.json" ||
    fail "stat does not show the budget $quarter: $(head -c 600 "$TMP/stat.json")"
prom=$(sed -n 's/.*"promotions":\([0-9]*\).*/\1/p' "$TMP/stat.json")
[ -n "$prom" ] && [ "$prom" -gt 0 ] || fail "nothing promoted under a quarter budget: $(grep moetier "$TMP/moe.log")"
note "decode steps $dec, promotions $prom"
"$MOETIER" top "$moe_pid" --iterations 1 > "$TMP/top.out" 2> "$TMP/top.err" || fail "top: $(cat "$TMP/top.err")"
grep -q "^moetier top  pid $moe_pid" "$TMP/top.out" || fail "top does not follow the server: $(head -n 5 "$TMP/top.out")"

# retune live: a smaller budget demotes at once, and the server still answers the same
"$MOETIER" set "$moe_pid" --dram $((quarter / 2)) > "$TMP/set.out" 2>&1 || fail "set: $(cat "$TMP/set.out")"
d=$("$MOETIER" stat "$moe_pid" --json | sed -n 's/.*"dram":{"bytes":\([0-9]*\).*/\1/p')
[ -n "$d" ] && [ "$d" -le $((quarter / 2)) ] || fail "after set --dram the cache holds '$d' bytes > $((quarter / 2))"
t=$(complete "$moe_port" "The history of the city")
grep -q "^seq The history of the city: $t\$" "$TMP/plain.tok" || fail "tokens differ after moetier set"
note "$(cat "$TMP/set.out")"

stop_server moe "$moe_pid"
grep -q "moetier" "$TMP/moe.log" || fail "no moetier log lines in the server's log"
grep -q "cache peak" "$TMP/moe.log" || { tail -n 20 "$TMP/moe.log"; fail "no exit summary: the runtime did not shut down with the server"; }
# the copy cache with the routing sampler's keep mode (one CPU backend)
# migrates per token for the server's whole life: no decode step, the
# first of a request included, turns it off
if ! grep -q "more than one backend" "$TMP/moe.log"; then
    grep -q "migration: per token" "$TMP/moe.log" || fail "not per token: $(grep 'migration' "$TMP/moe.log")"
    if grep -q "splits the graph" "$TMP/moe.log"; then
        fail "per-token migration turned off during the run: $(grep 'splits the graph' "$TMP/moe.log")"
    fi
    note "$(grep -o 'sampled [0-9]* of [0-9]* decode tokens' "$TMP/moe.log"), per token throughout"
fi
echo "PASS: $test_name"
