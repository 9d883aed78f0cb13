#!/bin/sh
# The model file rewritten in place while llama.cpp's llama-server has it
# mapped, under moetier's copy cache (issue 14). Without moetier the server's
# file mapping shows the new bytes at once; an expert moetier had copied into
# its DRAM cache would keep the old ones. The runtime notices the change
# (the file's size, modification or change time, every round), maps every
# copy back to the file and stops tiering with one line naming the file: the
# server's view of the weights, read through /proc/PID/mem, equals the file
# again within seconds, and the server keeps running.
. "$(dirname "$0")/../lib.sh"
need_program llama-server
need_shim
need_mkmoe
server=$prog

model=$TMP/m.gguf
olmoe_model "$model"
eb=$(expert_bytes "$model") || exit 1

. "$(dirname "$0")/server_lib.sh"

export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off
start_server moe --dram $((eb / 4)) --log info
for p in "The history of the city" "Water boils at a temperature" "def parse(line):"; do
    [ -n "$(complete "$moe_port" "$p")" ] || fail "no tokens for '$p'"
done
"$MOETIER" stat "$moe_pid" --json > "$TMP/stat.json" || fail "stat failed"
prom=$(sed -n 's/.*"promotions":\([0-9]*\).*/\1/p' "$TMP/stat.json")
[ -n "$prom" ] && [ "$prom" -gt 0 ] || fail "nothing promoted: $(grep moetier "$TMP/moe.log")"
out=$(same_bytes "$moe_pid") || fail "before the rewrite the server's weights differ from the file: $out"

# every byte after the first MiB (the tensors) plus one, written in place
dd if="$model" bs=1M skip=1 2> /dev/null | LC_ALL=C tr '\000-\377' '\001-\377\000' > "$TMP/tail"
dd if="$TMP/tail" of="$model" bs=1M seek=1 conv=notrunc 2> /dev/null || fail "cannot rewrite the model"
i=0
until out=$(same_bytes "$moe_pid"); do
    i=$((i + 1))
    [ $i -le 100 ] || fail "10 s after the rewrite the server still reads old bytes: $out"
    sleep 0.1
done
note "the server's view equals the rewritten file after $((i * 100)) ms ($prom promotions before)"
grep -q "model file $model changed while mapped (written to): expert tiering off" "$TMP/moe.log" ||
    fail "no line naming the change: $(grep moetier "$TMP/moe.log" | tail -n 5)"
curl -sf "http://127.0.0.1:$moe_port/health" > /dev/null || fail "the server stopped answering"
stop_server moe "$moe_pid"
echo "PASS: $test_name"
