#!/bin/sh
# llama.cpp's own llama-server in a memory cgroup smaller than its model, as
# users run a model that does not fit: plain, and under `moetier run` with
# the defaults (the routing sampler's exact reads, the read room). Several
# prompts one after another, then two at once, so the server's two slots
# decode together: batches of several tokens, read layer by layer and
# stepped through the room. Tokens identical; the room ran; every batch's
# layers were read. Speed is the benchmark's business, not this test's.
# Needs root and a cgroup memory controller (v1 or v2); skips otherwise.
. "$(dirname "$0")/../lib.sh"
need_program llama-server
need_shim
# the 84 MB model in 72M with the server's own memory
memory_cgroup server 72M
trap 'rmdir "$cg" 2> /dev/null; rm -rf "$TMP"' EXIT
need_mkmoe
server=$prog
model=$TMP/m.gguf
olmoe_model "$model"
. "$(dirname "$0")/server_lib.sh"
trap 'for p in $started_pids; do kill -KILL "$p" 2> /dev/null; done; sleep 0.2; rmdir "$cg" 2> /dev/null; rm -rf "$TMP"' EXIT
# the server is started through this, so that its pid is the server's own
printf '#!/bin/sh\necho $$ > "%s/cgroup.procs" && exec "$@"\n' "$cg" > "$TMP/in_cgroup"
chmod +x "$TMP/in_cgroup"
SERVER_WRAP=$TMP/in_cgroup

start_server plain
requests "$plain_port" "$TMP/plain.tok"
stop_server plain "$plain_pid"

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off
start_server moe --log info
requests "$moe_port" "$TMP/moe.tok"
stop_server moe "$moe_pid"
if ! cmp -s "$TMP/plain.tok" "$TMP/moe.tok"; then
    diff "$TMP/plain.tok" "$TMP/moe.tok"
    fail "llama-server's tokens differ under moetier in the cgroup"
fi
note "$(wc -l < "$TMP/moe.tok") completions identical under a 72M cap (4 sequential, 2 at once)"
log=$TMP/moe.log
grep -q "sampler: routing with exact reads" "$log" || fail "no exact reads: $(grep moetier "$log" | head -n 20)"
grep -q "read room (policy [a-z]*): [1-9][0-9]* layer steps" "$log" ||
    fail "no read room steps: $(grep 'read room' "$log")"
# six prompts at least (the two at once may share one batch), three MoE layers each
b=$(sed -n 's/.*exact reads: .*; \([0-9]*\) layers of batches.*/\1/p' "$log")
[ -n "$b" ] && [ "$b" -ge 15 ] || fail "the batches were not read layer by layer: $(grep 'exact reads' "$log")"
grep -q "warn" "$log" && grep moetier "$log" | grep -q warn && fail "a warning: $(grep moetier "$log" | grep warn)"
note "$(grep -o 'exact reads: .*' "$log")"
note "$(grep -o 'read room (policy.*' "$log")"
echo "PASS: $test_name"
