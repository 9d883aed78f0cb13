# tests/programs/server_lib.sh: starting, asking and stopping llama-server
# from a test (sourced after tests/lib.sh; uses $server, $model, $NPROC, $TMP).

# whatever a failing test leaves running (servers, clients) is killed at exit
started_pids=
trap 'for p in $started_pids; do kill -KILL "$p" 2> /dev/null; done; rm -rf "$TMP"' EXIT

# start_server NAME [moetier run options]: starts llama-server (under
# `moetier run` when options are given) and waits until it answers /health.
start_server() {
    name=$1
    shift
    port=$(free_port ${#name})
    set -- "$@" -- "$server" -m "$model" --host 127.0.0.1 --port "$port" -t "$NPROC" -c 2048 -np 2 \
        --no-webui --seed 1
    # SERVER_WRAP: a command that execs the rest (a cgroup's, server_capped.sh)
    if [ "$1" = -- ]; then shift; ${SERVER_WRAP:-} "$@" > "$TMP/$name.log" 2>&1 &
    else ${SERVER_WRAP:-} "$MOETIER" run "$@" > "$TMP/$name.log" 2>&1 &
    fi
    spid=$!
    started_pids="$started_pids $spid"
    i=0
    until curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; do
        kill -0 $spid 2> /dev/null || { tail -n 30 "$TMP/$name.log"; fail "$name server died while starting"; }
        i=$((i + 1))
        [ $i -le 1200 ] || { kill $spid; fail "$name server did not answer /health in 120 s"; }
        sleep 0.1
    done
    eval "${name}_pid=$spid ${name}_port=$port"
}

# requests PORT OUTFILE: greedy completions of several prompts one after
# another, then two at once (the server's two slots decode together), their
# token ids in OUTFILE.
prompts="The history of the city|Water boils at a temperature|In the beginning of the project we|def parse(line):"
requests() {
    : > "$2"
    IFS='|'
    for p in $prompts; do
        unset IFS
        t=$(complete "$1" "$p")
        [ -n "$t" ] || fail "no tokens for '$p' from port $1"
        echo "seq $p: $t" >> "$2"
        IFS='|'
    done
    unset IFS
    complete "$1" "Two requests at once, the first" > "$2.a" &
    a=$!
    complete "$1" "Two requests at once, the second" > "$2.b" &
    b=$!
    wait $a; wait $b
    [ -s "$2.a" ] && [ -s "$2.b" ] || fail "a concurrent request got no tokens from port $1"
    echo "par a: $(cat "$2.a")" >> "$2"
    echo "par b: $(cat "$2.b")" >> "$2"
}

# complete PORT PROMPT: the token ids of a greedy completion.
complete() {
    curl -sf "http://127.0.0.1:$1/completion" -H 'Content-Type: application/json' \
        -d "{\"prompt\": \"$2\", \"n_predict\": 24, \"temperature\": 0, \"seed\": 42, \"cache_prompt\": false, \"return_tokens\": true}" |
        sed -n 's/.*"tokens":\[\([0-9,]*\)\].*/\1/p'
}

stop_server() { # NAME PID: SIGTERM, then the exit status must be 0
    kill -TERM "$2"
    i=0
    while kill -0 "$2" 2> /dev/null; do
        i=$((i + 1))
        [ $i -le 300 ] || { kill -KILL "$2"; fail "$1 server did not stop within 30 s of SIGTERM"; }
        sleep 0.1
    done
    wait "$2" || { tail -n 20 "$TMP/$1.log"; fail "$1 server exited $? after SIGTERM"; }
}

# same_bytes PID: the weights as the server sees them. The model file's
# mapping from its lowest file offset to its highest end (llama.cpp maps the
# file once and unmaps the unused fragments at both ends; promoted ranges in
# between are the cache's memfd), read through /proc/PID/mem, equals the same
# bytes of the file: prints the bytes compared, else why not (status 1).
same_bytes() {
    fsize=$(stat -c %s "$model")
    set -- $(awk -v f="$model" '$6 == f { split($1, a, "-"); print a[1], a[2], $3 }' "/proc/$1/maps" |
        while read -r lo hi off; do
            echo $((0x$lo)) $((0x$hi)) $((0x$off))
        done | sort -n | awk 'NR == 1 { lo = $1; off = $3 } { hi = $2; end = $3 + $2 - $1 }
                              END { if (NR) print lo, off, hi - lo, end - off }') "$1"
    [ $# -eq 5 ] || { echo "the model file is not mapped in the server (load mode?)"; return 1; }
    [ "$3" -eq "$4" ] || { echo "the model's mappings are not one contiguous view of the file ($3 bytes of address, $4 of file)"; return 1; }
    # the last page of the mapping runs past the file's end
    [ $(($2 + $3)) -le "$fsize" ] || set -- "$1" "$2" $((fsize - $2)) "$4" "$5"
    dd if="/proc/$5/mem" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$3" of="$TMP/seen" \
        2> "$TMP/dd.err" || { echo "reading the server's memory: $(cat "$TMP/dd.err")"; return 1; }
    dd if="$model" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" of="$TMP/file" 2> /dev/null
    cmp -s "$TMP/seen" "$TMP/file" || { echo "$(cmp "$TMP/seen" "$TMP/file" | head -n 1) (from file offset $2)"; return 1; }
    echo "$3"
}
