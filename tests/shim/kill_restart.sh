#!/bin/sh
# SIGKILL at random points of migration, then a clean next run (issue 14):
# a process under the preload is killed while the engine is promoting
# (moetier stat shows promotions), at a different delay each round; its
# segment is left behind and the tools remove it as stale; the profile an
# earlier clean run saved is intact (written by rename: never half a file)
# and the next run starts warm from it, exits 0 with tokens identical to a
# run without moetier. Delays come from a fixed list (no timing is judged).
. "$(dirname "$0")/../lib.sh"
tiering_setup 60 4
export MOETIER_LOG=info

# clean NAME: a run to its end: exit 0, identical tokens
clean() {
    LD_PRELOAD="$MOETIER_LIB" drive "$TMP/$1" $run_args
    [ "$want" = "$(field "$TMP/$1.out" tokens)" ] || fail "$1: tokens differ"
}
clean first
[ -f "$MOETIER_PROFILE" ] || fail "the clean run saved no profile: $(cat "$TMP/first.err")"
cp "$MOETIER_PROFILE" "$TMP/profile.before"

for delay in 0 0.05 0.2; do
    LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 6000 -n 8 \
        > "$TMP/killed.out" 2> "$TMP/killed.err" &
    pid=$!
    i=0 promoted=
    while [ $i -lt 600 ] && kill -0 $pid 2> /dev/null; do
        p=$("$MOETIER" stat $pid --json 2> /dev/null | sed -n 's/.*"promotions":\([0-9]*\).*/\1/p')
        [ -n "$p" ] && [ "$p" -gt 0 ] && { promoted=$p; break; }
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$promoted" ] || { kill -9 $pid 2> /dev/null; cat "$TMP/killed.err"; fail "no promotion seen before the kill"; }
    sleep $delay
    kill -9 $pid
    wait $pid 2> /dev/null
    seg="$MOETIER_STATS_DIR/moetier-$pid.stats"
    [ -f "$seg" ] || note "delay $delay: no segment left behind"
    "$MOETIER" stat --json > /dev/null 2>&1 # lists the directory: removes what is stale
    [ ! -e "$seg" ] || fail "the killed process's segment was not cleaned up"
    "$MOETIER" profile show "$MOETIER_PROFILE" > /dev/null || fail "the profile is damaged after a kill"
    clean "after.$delay"
    grep -q "warm start from $MOETIER_PROFILE" "$TMP/after.$delay.err" ||
        fail "the run after the kill did not start from the profile: $(cat "$TMP/after.$delay.err")"
    note "killed after $promoted promotions + ${delay}s: segment cleaned, profile intact, next run clean"
done
echo "PASS: $test_name"
