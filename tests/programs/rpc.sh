#!/bin/sh
# llama.cpp's RPC backend, the distributed engine users already have: two
# unmodified ggml-rpc-server processes on loopback, each under moetier with
# MOETIER_MODEL naming the model they will be sent, and llama-completion
# --rpc splitting the model over them (-ngl 99). The tokens are identical to
# one host's; while the client runs, each server's `moetier stat` shows the
# expert tensors it holds (placed by the names in the RPC tensor uploads) and
# between them every expert tensor of the model.
. "$(dirname "$0")/../lib.sh"
need_program ggml-rpc-server
rpc=$prog
need_program llama-completion
completion=$prog
need_shim
need_mkmoe

model=$TMP/m.gguf
"$MOETIER" mkmoe "$model" --type q8_0 --embd 256 --layers 4 --experts 16 --used 4 --seed 3 -q || fail "mkmoe"
export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE=off

start_rpc() { # NAME: an rpc-server under moetier on a free port
    port=$(free_port ${#1})
    "$MOETIER" run --model "$model" --log info -- "$rpc" -H 127.0.0.1 -p "$port" -t 1 > "$TMP/$1.log" 2>&1 &
    pid=$!
    i=0
    until grep -qi ":$(printf '%04X' "$port") .* 0A " /proc/net/tcp; do
        kill -0 $pid 2> /dev/null || { cat "$TMP/$1.log"; fail "rpc-server $1 died while starting"; }
        i=$((i + 1))
        [ $i -le 300 ] || fail "rpc-server $1 not listening after 30 s"
        sleep 0.1
    done
    eval "${1}_pid=$pid ${1}_port=$port"
}
start_rpc a
start_rpc b
trap 'kill $a_pid $b_pid 2> /dev/null; rm -rf "$TMP"' EXIT
servers=127.0.0.1:$a_port,127.0.0.1:$b_port

set -- -m "$model" -p "The old lighthouse keeper looked at the sea and said" -n 24 --temp 0 --seed 1 -t "$NPROC" -no-cnv
"$completion" "$@" > "$TMP/one.out" 2> "$TMP/one.err" || { tail "$TMP/one.err"; fail "one host: exit $?"; }
"$completion" "$@" --rpc "$servers" -ngl 99 > "$TMP/rpc.out" 2> "$TMP/rpc.err" || { tail "$TMP/rpc.err"; fail "--rpc: exit $?"; }
same_text "$TMP/one.out" "$TMP/rpc.out" || { diff "$TMP/one.out" "$TMP/rpc.out"; fail "tokens differ over RPC"; }
note "identical over two rpc-servers: $(cat "$TMP/rpc.out")"

# what each server holds, while a client keeps its buffers there
"$completion" -m "$model" -p "Once" -n 100000 --ignore-eos -t "$NPROC" -no-cnv --rpc "$servers" -ngl 99 \
    > /dev/null 2> "$TMP/long.err" &
client=$!
held() { "$MOETIER" stat "$1" --json 2> /dev/null | sed -n 's/.*"placement":"\([0-9]*\) expert tensors in anonymous buffer.*/\1/p'; }
i=0
while :; do
    ha=$(held $a_pid) hb=$(held $b_pid)
    [ -n "$ha" ] && [ -n "$hb" ] && [ $((ha + hb)) -ge 12 ] && break
    kill -0 $client 2> /dev/null || { tail "$TMP/long.err"; fail "the client ended early"; }
    i=$((i + 1))
    [ $i -le 300 ] || { kill $client; fail "servers hold '$ha' and '$hb' expert tensors, want 12 together"; }
    sleep 0.1
done
kill $client; wait $client 2> /dev/null
note "rpc-server a holds $ha expert tensors, b holds $hb (of 12)"
"$MOETIER" stat $a_pid | sed -n 's/^/  a: /p' | grep -E "experts:|placement:"
echo "PASS: $test_name"
