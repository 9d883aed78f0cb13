# tests/lib.sh: sourced by the shell tests (skip/fail helpers, models, the driver).
# Environment (from tests/local.mk; defaults let a test run by hand from the
# build directory): MOETIER, TOP_SRCDIR, TOP_BUILDDIR, LLAMA_LIBDIR, LLAMA_DRIVER.
# Exit codes follow the automake harness: 0 pass, 1 fail, 77 skip.

set -u

TOP_BUILDDIR=${TOP_BUILDDIR:-$(pwd)}
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MOETIER=${MOETIER:-$TOP_BUILDDIR/tools/moetier}
LLAMA_DRIVER=${LLAMA_DRIVER:-$TOP_BUILDDIR/tests/bin/llama_driver}
export LLAMA_LIBDIR=${LLAMA_LIBDIR:-}
TEXT=$TOP_SRCDIR/data/text/varied.txt

test_name=$(basename "$0" .sh)

skip() { echo "SKIP: $test_name: $*"; exit 77; }
fail() { echo "FAIL: $test_name: $*"; exit 1; }
note() { echo "$test_name: $*"; }

need_driver() {
    [ -x "$LLAMA_DRIVER" ] ||
        skip "llama_driver not built ($LLAMA_DRIVER missing): run scripts/setup-deps, then configure"
    [ -n "$LLAMA_LIBDIR" ] || note "LLAMA_LIBDIR unset: the driver finds the backends next to libllama"
}

need_mkmoe() {
    [ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
    "$MOETIER" mkmoe --help >/dev/null 2>&1 || skip "moetier mkmoe does not work yet"
}

need_text() {
    [ -r "$TEXT" ] || fail "corpus $TEXT missing"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/moetier-$test_name.XXXXXX") || fail "mktemp"
trap 'rm -rf "$TMP"' EXIT

# mkmodel OUT TYPE [mkmoe options]: a small model (a few MiB), fixed seed.
mkmodel() {
    out=$1 type=$2
    shift 2
    "$MOETIER" mkmoe "$out" --type "$type" --embd 128 --layers 4 --experts 8 --used 2 \
        --seed 7 -q "$@" > "$TMP/mkmoe.log" 2>&1 ||
        { cat "$TMP/mkmoe.log"; fail "mkmoe $out --type $type $* failed"; }
}

# olmoe_model OUT: the tiering tests' model (84 MB, 3 MoE layers x 64 experts,
# routing skew from the real OLMoE counts).
olmoe_model() {
    "$MOETIER" mkmoe "$1" --embd 256 --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" -q || fail "mkmoe $1"
}

# expert_bytes FILE: the expert bytes `moetier inspect` counts; run it as
# x=$(expert_bytes F) || exit 1 (it says why on stderr when there are none).
expert_bytes() {
    eb=$("$MOETIER" inspect --json "$1" | sed -n 's/.*"expert_bytes_total":\([0-9]*\).*/\1/p')
    [ -n "$eb" ] && [ "$eb" -gt 0 ] || { echo "FAIL: $test_name: no expert bytes from inspect $1" >&2; exit 1; }
    echo "$eb"
}

# trace_shape FILE.trace: sets L, E and K (MoE layers, experts, top-k) from
# the trace's header; fails the test when it is missing or unreadable.
trace_shape() {
    [ -r "$1" ] || fail "trace $1 missing"
    hdr=$(head -n 1 "$1")
    L=$(echo "$hdr" | sed -n 's/.* layers=\([0-9]*\).*/\1/p')
    E=$(echo "$hdr" | sed -n 's/.* experts=\([0-9]*\).*/\1/p')
    K=$(echo "$hdr" | sed -n 's/.* topk=\([0-9]*\).*/\1/p')
    [ -n "$L" ] && [ -n "$E" ] && [ -n "$K" ] || fail "cannot read the shape of $1: $hdr"
}

# drive OUTPREFIX [driver options]: runs the driver, stdout to OUTPREFIX.out,
# stderr to OUTPREFIX.err; fails the test on a non-zero exit (showing stderr).
drive() {
    pfx=$1
    shift
    "$LLAMA_DRIVER" --quiet "$@" > "$pfx.out" 2> "$pfx.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "--- $LLAMA_DRIVER $* (exit $rc) stderr:"
        cat "$pfx.err"
        fail "llama_driver exited $rc"
    fi
}

# field FILE KEY: the value of a 'KEY: value' line.
field() {
    sed -n "s/^$2: //p" "$1" | head -n 1
}

# clear_moetier_env: drops every MOETIER_* configuration variable of the
# caller's environment (MOETIER_LIB, the library to test, stays).
clear_moetier_env() {
    for v in $(env | sed -n 's/^\(MOETIER_[A-Z_]*\)=.*/\1/p' | grep -vx MOETIER_LIB); do
        unset "$v"
    done
}

# tiering_setup FEED TOKENS: a small model ($TMP/m.gguf), run_args for the
# driver (FEED tokens fed, TOKENS generated), want = the tokens of a run
# without moetier, and the environment of a run where every part works:
# tiering on a quarter of the experts by copy into the memfd cache, sampling
# every step, live stats and a profile ($MOETIER_PROFILE).
tiering_setup() {
    need_driver
    need_shim
    need_text
    clear_moetier_env
    mkmodel "$TMP/m.gguf" q8_0
    experts=$(expert_bytes "$TMP/m.gguf") || exit 1
    run_args="-m $TMP/m.gguf --feed $TEXT --feed-max $1 -n $2"
    drive "$TMP/plain" $run_args
    want=$(field "$TMP/plain.out" tokens)
    [ -n "$want" ] || fail "no tokens without the preload"
    export MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE="$TMP/prof/m.prof" MOETIER_SAMPLE_MS=1 \
        MOETIER_SAMPLE_BUDGET=100% MOETIER_DRAM=$((experts / 4)) MOETIER_PROMOTE=copy
}

need_shim() {
    MOETIER_LIB=${MOETIER_LIB:-$TOP_BUILDDIR/shim/.libs/libmoetier.so}
    [ -f "$MOETIER_LIB" ] || skip "libmoetier.so not built ($MOETIER_LIB missing)"
    export MOETIER_LIB
}

# need_program NAME: llama.cpp's own program NAME (built by scripts/setup-deps
# from the pinned release's source into deps/llama-bin); sets PROG_NAME path
# in $prog.
need_program() {
    [ -n "${LLAMA_BINDIR:-}" ] && [ -x "$LLAMA_BINDIR/$1" ] ||
        skip "llama.cpp's $1 not built (LLAMA_BINDIR='${LLAMA_BINDIR:-}'): run scripts/setup-deps, then configure"
    prog=$LLAMA_BINDIR/$1
}

# memory_cgroup NAME LIMIT: a memory cgroup of LIMIT for this test in $cg
# (the caller's EXIT trap removes it: rmdir "$cg"), or skip: it needs root
# and a memory controller (v1 or v2).
memory_cgroup() {
    [ "$(id -u)" = 0 ] || skip "needs root to make a memory cgroup"
    if [ -d /sys/fs/cgroup/memory ]; then
        cg=/sys/fs/cgroup/memory/moetier-$1.$$ limit=memory.limit_in_bytes
    elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2> /dev/null; then
        cg=/sys/fs/cgroup/moetier-$1.$$ limit=memory.max
    else
        skip "no cgroup memory controller (v1 /sys/fs/cgroup/memory or v2 memory)"
    fi
    mkdir "$cg" 2> /dev/null || skip "cannot create $cg"
    echo "$2" > "$cg/$limit" || { rmdir "$cg"; fail "cannot set $cg/$limit"; }
}

# in_cgroup COMMAND...: runs COMMAND inside $cg.
in_cgroup() {
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@"
}

# Every core, as users run llama.cpp.
NPROC=$(nproc 2> /dev/null || echo 2)

# free_port: a TCP port on 127.0.0.1 nobody listens on (from a range keyed on
# the test's pid, checked against /proc/net/tcp).
free_port() {
    p=$((20000 + ($$ * 7 + ${1:-0} * 131) % 20000))
    while grep -qi ":$(printf '%04X' $p) " /proc/net/tcp 2> /dev/null; do p=$((p + 1)); done
    echo $p
}

# same_text A B: the two outputs are the same text, but for trailing newlines.
# llama.cpp's programs print their output through an asynchronous logger that
# can lose the end of it at exit on a loaded machine (seen in plain runs too:
# the last "\n\n", or the last tokens' text). So when one output is a strict
# prefix of the other, of at least half its length, the prefix is what is
# compared, and the test says so; any byte that differs still fails.
same_text() {
    a=$(cat "$1") b=$(cat "$2")
    [ "$a" = "$b" ] && return 0
    short=$a long=$b
    [ ${#a} -gt ${#b} ] && short=$b long=$a
    case $long in
    "$short"*)
        [ $((2 * ${#short})) -ge ${#long} ] || return 1
        note "one output ends early (llama.cpp's logger at exit): compared its ${#short} bytes, which agree"
        return 0 ;;
    esac
    return 1
}

# run_guest RESULT RUN-GUEST-ARGS...: boots the qemu guest (tests/qemu/run-guest)
# into $TMP/guest.log and shows it; skips when qemu cannot start, fails unless the
# guest's result line starts with RESULT ("1 passed, 0 failed").
run_guest() {
    want=$1
    shift
    "$TOP_SRCDIR/tests/qemu/run-guest" "$@" > "$TMP/guest.log" 2>&1
    rc=$?
    cat "$TMP/guest.log"
    [ $rc -eq 77 ] && skip "run-guest could not start qemu"
    [ $rc -eq 0 ] || fail "the guest run failed (exit $rc; see above)"
    grep -q "^MOETIER-GUEST-RESULT: $want" "$TMP/guest.log" ||
        fail "expected '$want': $(grep '^MOETIER-GUEST-RESULT' "$TMP/guest.log")"
}
