# tests/tools/tools_lib.sh: sourced (after tests/lib.sh) by the tests of the
# live-stats tools. Starts stats writers (tests/bin/stats_writer: the real
# segment writer with a known pattern) in a private stats directory, stops them
# at exit, and normalizes what varies between runs (pids, times, paths) before
# a golden comparison.

TESTS_BIN=${TESTS_BIN:-$TOP_BUILDDIR/tests/bin}
WRITER=$TESTS_BIN/stats_writer
PNG_READ=$TESTS_BIN/png_read
GOLDEN=$TOP_SRCDIR/tests/tools/golden
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
[ -x "$WRITER" ] || skip "stats_writer not built ($WRITER missing): make check builds it"

# every MOETIER_* configuration variable of the caller's environment is dropped
for v in $(env | sed -n 's/^\(MOETIER_[A-Z_]*\)=.*/\1/p'); do
    unset "$v"
done
MOETIER_STATS_DIR=$TMP/stats
export MOETIER_STATS_DIR
unset NO_COLOR COLUMNS

WRITER_PIDS=
n_writers=0
stop_writers() {
    for p in $WRITER_PIDS; do
        kill "$p" 2>/dev/null
    done
    for p in $WRITER_PIDS; do
        wait "$p" 2>/dev/null
    done
    WRITER_PIDS=
}
trap 'stop_writers; rm -rf "$TMP"' EXIT

# start_writer [stats_writer options]: a live segment; sets WPID and WPATH.
start_writer() {
    n_writers=$((n_writers + 1))
    out=$TMP/writer.$n_writers.out
    "$WRITER" segment "$MOETIER_STATS_DIR" "$@" > "$out" 2>&1 &
    WPID=$!
    WRITER_PIDS="$WRITER_PIDS $WPID"
    i=0
    while ! grep -q '^ready ' "$out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 100 ] || { cat "$out"; fail "stats_writer did not start"; }
        kill -0 "$WPID" 2>/dev/null || { cat "$out"; fail "stats_writer exited"; }
        sleep 0.05
    done
    WPATH=$(sed -n 's/^ready //p' "$out")
}

# kill_writer PID [SIGNAL]: stops one writer and waits for it.
kill_writer() {
    kill "-${2:-TERM}" "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    WRITER_PIDS=$(echo "$WRITER_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# normalize < in > out: pids, times, ages and the temporary directory become fixed words.
normalize() {
    sed -e "s|$TMP|TMP|g" \
        -e 's/"pid":[0-9][0-9]*/"pid":PID/g' \
        -e 's/"\(start_ns\|update_ns\)":[0-9][0-9]*/"\1":NS/g' \
        -e 's/"time":"[0-9T:-]*Z"/"time":"TIME"/g' \
        -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z/TIME/g' \
        -e 's/pid [0-9][0-9]*/pid PID/g' \
        -e 's/^process:    [0-9][0-9]* (\([^)]*\)), up [0-9a-z]*,/process:    PID (\1), up AGE,/'
}

# golden NAME FILE: compares FILE with golden/NAME (REGEN=1 rewrites the golden).
golden() {
    if [ "${REGEN:-}" = 1 ]; then
        cp "$2" "$GOLDEN/$1"
        note "rewrote golden/$1"
        return 0
    fi
    diff -u "$GOLDEN/$1" "$2" || fail "output differs from golden/$1"
}

# expect_exit CODE FRAGMENT CMD...: CMD exits CODE with one stderr line holding FRAGMENT.
expect_exit() {
    code=$1 frag=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    [ $rc -eq "$code" ] || { cat "$TMP/err"; fail "$*: exit $rc, expected $code"; }
    [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "$*: expected one line on stderr: $(cat "$TMP/err")"
    grep -q -- "$frag" "$TMP/err" || fail "$*: message lacks '$frag': $(cat "$TMP/err")"
}

# json_ok FILE: FILE is one valid JSON document (checked with node when present).
json_ok() {
    command -v node > /dev/null 2>&1 || return 0
    node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$1" ||
        fail "$1 is not valid JSON"
}
