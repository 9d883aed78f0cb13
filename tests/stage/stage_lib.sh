# tests/stage/stage_lib.sh: sourced (after tests/lib.sh) by the moetier stage
# tests: the find helper and byte poking.

TESTS_BIN=${TESTS_BIN:-$TOP_BUILDDIR/tests/bin}
FIND=$TESTS_BIN/stage_find
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
[ -x "$FIND" ] || skip "stage_find not built ($FIND missing): make check builds it"

# found SLOW MODEL: the runtime's answer, one line ("ok PATH ..." or "CODE why")
found() {
    "$FIND" find "$1" "$2" || fail "stage_find find $1 $2 exited $?"
}

# expect_found SLOW MODEL CODE [TEXT]: the answer starts with CODE (and holds TEXT)
expect_found() {
    r=$(found "$1" "$2")
    case "$r" in
    "$3"*) ;;
    *) fail "find $2 in $1: expected $3${4:+ ($4)}, got: $r" ;;
    esac
    if [ -n "${4:-}" ]; then
        case "$r" in
        *"$4"*) ;;
        *) fail "find $2 in $1: expected '$4' in: $r" ;;
        esac
    fi
}

# flip FILE OFFSET: inverts the byte at OFFSET in place (same inode)
flip() {
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || fail "flip: no byte $2 in $1"
    printf "$(printf '\\%03o' $((255 - b)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none || fail "flip: dd $1"
}

# block N SIZE: "OFFSET LENGTH" of sampled block N of a SIZE-byte file
block() {
    "$FIND" blocks "$2" | sed -n "$(($1 + 1))p"
}

# run_stage EXPECTED_EXIT OUT [moetier stage args]: stdout+stderr to OUT
run_stage() {
    want=$1 out=$2
    shift 2
    "$MOETIER" stage "$@" > "$out" 2>&1
    got=$?
    [ "$got" -eq "$want" ] || { cat "$out"; fail "moetier stage $*: exit $got, expected $want"; }
}
