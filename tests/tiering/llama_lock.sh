#!/bin/sh
# The file tier's promotion by locking, on the real llama.cpp under a DRAM
# budget of a quarter of the expert bytes: hot experts' page-cache pages are
# mlocked in place (the process's VmLck grows, never past the budget), tokens
# identical to a run without moetier (MOETIER_PROMOTE=lock: the model fits here,
# where auto copies, and there is no fetch sampler; llama_fetch.sh runs the
# default under a memory cap). Then the ways out of locking:
# MOETIER_PROMOTE=copy, and a process without CAP_IPC_LOCK whose memlock limit
# cannot hold the budget (auto copies; MOETIER_PROMOTE=lock cuts the budget to
# the limit), each with identical tokens and one log line saying so. Also the
# defaults on this model that fits: no expert cache, half the sampling budget.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

olmoe_model "$TMP/m.gguf"
experts=$(expert_bytes "$TMP/m.gguf") || exit 1
budget=$((experts / 4))
drive "$TMP/plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 -n 16
want=$(field "$TMP/plain.out" tokens)
[ -n "$want" ] || fail "no tokens without the preload"

export MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info MOETIER_DRAM=$budget
export MOETIER_STATS_DIR="$TMP/stats"

# run NAME [PREFIX...]: the driver under the preload (PREFIX: a command that
# execs it, e.g. setpriv), VmLck of the process polled while it runs
run() {
    name=$1
    shift
    "$@" env LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 \
        -n 16 > "$TMP/$name.out" 2> "$TMP/$name.err" &
    pid=$!
    max=0
    while kill -0 $pid 2> /dev/null; do
        kb=$(sed -n 's/^VmLck:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status 2> /dev/null)
        [ -n "$kb" ] && [ "$kb" -gt "$max" ] && max=$kb
        sleep 0.05
    done
    wait $pid || { cat "$TMP/$name.err"; fail "$name: driver failed under the preload"; }
    [ "$want" = "$(field "$TMP/$name.out" tokens)" ] || fail "$name: tokens differ: $(cat "$TMP/$name.err")"
    locked=$((max * 1024))
}

# no CAP_IPC_LOCK and a memlock limit of $1 KiB (root drops the capability with
# setpriv); only as run's PREFIX: it execs, so the polled pid is the driver's
nocap() {
    lim=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        set -- setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock sh -c "ulimit -l $lim && exec \"\$@\"" sh "$@"
    else
        set -- sh -c "ulimit -l $lim && exec \"\$@\"" sh "$@"
    fi
    exec "$@"
}

MOETIER_PROMOTE=lock run lock
grep -q "promotion by locking the page cache" "$TMP/lock.err" || fail "lock: not locking: $(cat "$TMP/lock.err")"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/lock.err" || fail "lock: nothing promoted: $(cat "$TMP/lock.err")"
grep -q "sampler: fetch" "$TMP/lock.err" && fail "lock: the fetch sampler ran for a model that fits"
[ "$locked" -gt 0 ] || fail "lock: VmLck stayed 0: nothing was locked"
[ "$locked" -le "$budget" ] || fail "lock: VmLck $locked passed the budget $budget"
note "lock: identical tokens, VmLck peak $locked of a $budget budget; $(grep -o 'tiering: [0-9]* promotions.*' "$TMP/lock.err")"

MOETIER_PROMOTE=copy run copy
grep -q "promotion by copy" "$TMP/copy.err" || fail "copy: not copying: $(cat "$TMP/copy.err")"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/copy.err" || fail "copy: nothing promoted"
[ "$locked" = 0 ] || fail "copy: $locked bytes locked"
note "copy: identical tokens, nothing locked"
# auto on a model that fits (tiered only because MOETIER_DRAM is set): copies, saying why
run auto
grep -q "file tier: the model fits in memory; promoting by copy" "$TMP/auto.err" ||
    fail "auto: no copy on a model that fits: $(cat "$TMP/auto.err")"
[ "$locked" = 0 ] || fail "auto: $locked bytes locked"

# the defaults on a model that fits: no expert cache, nothing moves, and the
# sampler (which then only feeds the stats and the profile) gets half the
# default budget; a budget the user set is kept
run idle env -u MOETIER_DRAM -u MOETIER_SAMPLE_BUDGET
grep -q "the model fits in the memory available; no expert cache" "$TMP/idle.err" ||
    fail "idle: an expert cache on a model that fits: $(cat "$TMP/idle.err")"
grep -q "sampling budget 0.5% while nothing migrates" "$TMP/idle.err" || fail "idle: budget not halved"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/idle.err" && fail "idle: promotions on a model that fits"
grep -q "sampled [1-9][0-9]* of" "$TMP/idle.err" || fail "idle: no samples"
[ "$locked" = 0 ] || fail "idle: $locked bytes locked"
run idle_set env -u MOETIER_DRAM
grep -q "while nothing migrates" "$TMP/idle_set.err" && fail "idle: MOETIER_SAMPLE_BUDGET=100% was overridden"
note "defaults on a model that fits: no cache, $(grep -o 'sampled [0-9]* of [0-9]*' "$TMP/idle.err") decode tokens at 0.5%, identical tokens"

# a 1 MiB memlock limit: auto falls back to the copy, with one line naming the limit
run limited nocap 1024
grep -q "the memlock limit leaves 1.00 MiB of the .* budget; promoting by copy" "$TMP/limited.err" ||
    fail "limited: no fallback line: $(cat "$TMP/limited.err")"
grep -q "promotion by copy" "$TMP/limited.err" || fail "limited: not copying"
[ "$locked" = 0 ] || fail "limited: $locked bytes locked"
note "memlock 1 MiB, no CAP_IPC_LOCK: copies, identical tokens"

# MOETIER_PROMOTE=lock under a 4 MiB limit: the budget is cut to what may be locked
MOETIER_PROMOTE=lock run cut nocap 4096
grep -q "MOETIER_PROMOTE=lock: the DRAM budget .* is cut to the 4.00 MiB the memlock limit leaves" "$TMP/cut.err" ||
    fail "cut: no line: $(cat "$TMP/cut.err")"
grep -q "promotion by locking the page cache" "$TMP/cut.err" || fail "cut: not locking"
[ "$locked" -gt 0 ] && [ "$locked" -le $((4 << 20)) ] || fail "cut: VmLck $locked, want 1..4 MiB"
grep -q "tiering: [0-9]* promotions ([^)]*), [0-9]* demotions, 0 failed" "$TMP/cut.err" ||
    fail "cut: failed migrations: $(grep 'tiering:' "$TMP/cut.err")"
note "MOETIER_PROMOTE=lock, memlock 4 MiB: budget cut, VmLck peak $locked, identical tokens"
echo "PASS: $test_name"
