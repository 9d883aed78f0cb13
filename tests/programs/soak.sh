#!/bin/sh
# Soak (make check-long; SOAK_SECONDS, default 600): llama.cpp's own
# llama-server under `moetier run`, the copy cache at a quarter of the expert
# bytes, two clients sending greedy completions back to back for the whole
# time, and the cache kept migrating: every SOAK_RETUNE seconds (default 20)
# `moetier set` changes the budget (a quarter, an eighth, a half) and the
# policy (adapt, lru, lfu), so slots are demoted and promoted while requests
# decode. Checked all along:
#  - every completion's token ids equal a plain server's for the same prompt;
#  - the weights the server reads are the file's bytes: at every check the
#    model file's whole mapping is read through /proc/PID/mem (promoted ranges
#    come from the cache's memfd, the rest from the file) and compared with
#    the file; a single differing byte fails;
#  - memory is flat: the server's anonymous RSS after the first check stays
#    within SOAK_GROWTH_KIB (default 16 MiB) of its lowest reading; its shared
#    memory (the cache's memfd) never passes the largest budget and 4 MiB,
#    and the cache never holds more than its budget of the moment;
#  - it ends cleanly on SIGTERM (exit 0, moetier's exit summary).
# Prints one line per check (time, completions, RSS, cache, migrations) and a
# summary: the figures docs/programs.md quotes.
. "$(dirname "$0")/../lib.sh"
need_program llama-server
need_shim
need_mkmoe
server=$prog
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_RETUNE=${SOAK_RETUNE:-20}
SOAK_GROWTH_KIB=${SOAK_GROWTH_KIB:-16384}

model=$TMP/m.gguf
olmoe_model "$model"
eb=$(expert_bytes "$model") || exit 1
size=$(stat -c %s "$model")
quarter=$((eb / 4))

. "$(dirname "$0")/server_lib.sh"

prompts="The history of the city|Water boils at a temperature|In the beginning of the project we|def parse(line):|Two requests at once, the first|Two requests at once, the second"
n_prompts=6
prompt() { echo "$prompts" | cut -d'|' -f"$1"; }

# the reference: a plain server's tokens for every prompt
start_server plain
i=1
while [ $i -le $n_prompts ]; do
    t=$(complete "$plain_port" "$(prompt $i)")
    [ -n "$t" ] || fail "no tokens from the plain server for '$(prompt $i)'"
    echo "$t" > "$TMP/ref.$i"
    i=$((i + 1))
done
stop_server plain "$plain_pid"

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off MOETIER_PROMOTE=copy
start_server moe --dram "$quarter" --log info

# client N: completions until the stop file appears; one line per request in
# $TMP/client.N ("ok" or "DIFF prompt"), prompts in a rotating order
client() {
    k=$1
    : > "$TMP/client.$k"
    while [ ! -e "$TMP/stop" ] && kill -0 "$moe_pid" 2> /dev/null; do
        p=$((k % n_prompts + 1))
        t=$(complete "$moe_port" "$(prompt $p)")
        if [ "$t" = "$(cat "$TMP/ref.$p")" ]; then echo ok >> "$TMP/client.$1"
        elif [ -e "$TMP/stop" ] && [ -z "$t" ]; then break
        else echo "DIFF $p: $t" >> "$TMP/client.$1"
        fi
        k=$((k + 2))
    done
}
client 1 &
c1=$!
client 2 &
c2=$!
started_pids="$started_pids $c1 $c2"

# the weights as the server sees them (server_lib.sh's same_bytes)
check_bytes() {
    checked=$(same_bytes "$moe_pid") || fail "the server's weights differ from the file: $checked"
    checks=$((checks + 1))
}

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$moe_pid/status"; }
json_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$TMP/stat.json"; }

budgets="$quarter $((eb / 8)) $((eb / 2))"
policies="adapt lru lfu"
start=$(date +%s)
checks=0 retunes=0 anon_min= anon_max=0 shm_min= shm_max=0
note "soak: ${SOAK_SECONDS}s, model $size bytes ($eb of experts), retune every ${SOAK_RETUNE}s"
while :; do
    sleep "$SOAK_RETUNE"
    kill -0 "$moe_pid" 2> /dev/null || fail "the server died: $(tail -n 20 "$TMP/moe.log")"
    now=$(($(date +%s) - start))
    check_bytes
    "$MOETIER" stat "$moe_pid" --json > "$TMP/stat.json" 2> "$TMP/stat.err" || fail "stat: $(cat "$TMP/stat.err")"
    cache=$(sed -n 's/.*"dram":{"bytes":\([0-9]*\),"budget":\([0-9]*\)}.*/\1/p' "$TMP/stat.json")
    budget=$(sed -n 's/.*"dram":{"bytes":\([0-9]*\),"budget":\([0-9]*\)}.*/\2/p' "$TMP/stat.json")
    [ -n "$cache" ] && [ -n "$budget" ] && [ "$cache" -le "$budget" ] ||
        fail "the cache holds '$cache' bytes, budget '$budget'"
    anon=$(kib RssAnon) shm=$(kib RssShmem)
    # the first reading is the warm-up (KV cache, graphs, the first promotions)
    if [ $retunes -gt 0 ]; then
        [ -z "$anon_min" ] || [ "$anon" -lt "$anon_min" ] && anon_min=$anon
        [ "$anon" -gt "$anon_max" ] && anon_max=$anon
        [ -z "$shm_min" ] || [ "$shm" -lt "$shm_min" ] && shm_min=$shm
        [ "$shm" -gt "$shm_max" ] && shm_max=$shm
    fi
    done_n=$(cat "$TMP/client.1" "$TMP/client.2" | wc -l)
    bad=$(cat "$TMP/client.1" "$TMP/client.2" | grep -c DIFF)
    [ "$bad" -eq 0 ] || fail "tokens differ under moetier: $(grep -h DIFF "$TMP/client.1" "$TMP/client.2" | head -n 3)"
    note "t=${now}s completions $done_n, RssAnon ${anon} KiB, RssShmem ${shm} KiB, cache $cache of $budget," \
        "promoted $(json_num promotions), demoted $(json_num demotions), failed $(json_num failed)"
    [ "$now" -lt "$SOAK_SECONDS" ] || break
    retunes=$((retunes + 1))
    b=$(echo "$budgets" | cut -d' ' -f$((retunes % 3 + 1)))
    p=$(echo "$policies" | cut -d' ' -f$(((retunes / 3) % 3 + 1)))
    "$MOETIER" set "$moe_pid" --dram "$b" --policy "$p" > "$TMP/set.out" 2>&1 || fail "set: $(cat "$TMP/set.out")"
done
touch "$TMP/stop"
wait $c1
wait $c2
done_n=$(cat "$TMP/client.1" "$TMP/client.2" | wc -l)
bad=$(cat "$TMP/client.1" "$TMP/client.2" | grep -c DIFF)
[ "$bad" -eq 0 ] || fail "tokens differ under moetier: $(grep -h DIFF "$TMP/client.1" "$TMP/client.2" | head -n 3)"
[ "$done_n" -ge 10 ] || fail "only $done_n completions in ${SOAK_SECONDS}s"
prom=$(json_num promotions) dem=$(json_num demotions)
[ "${dem:-0}" -gt 0 ] || fail "nothing was demoted: the cache never migrated"
[ $((anon_max - anon_min)) -le "$SOAK_GROWTH_KIB" ] ||
    fail "RssAnon grew from $anon_min to $anon_max KiB (more than $SOAK_GROWTH_KIB KiB)"
[ "$shm_max" -le $((eb / 2 / 1024 + 4096)) ] ||
    fail "RssShmem reached $shm_max KiB, beyond the largest budget ($((eb / 2 / 1024)) KiB) and 4 MiB"
stop_server moe "$moe_pid"
grep -q "cache peak" "$TMP/moe.log" || fail "no exit summary: the runtime did not shut down with the server"
note "summary: ${SOAK_SECONDS}s, $done_n completions all identical, $checks byte checks of $checked mapped bytes all equal," \
    "$retunes retunes, $prom promotions and $dem demotions, RssAnon $anon_min-$anon_max KiB," \
    "RssShmem $shm_min-$shm_max KiB"
echo "PASS: $test_name"
