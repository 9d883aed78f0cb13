#!/bin/sh
# Bad input to moetier stage: exit 2 and one line on stderr naming the
# problem (bad usage, missing model, not a GGUF, DEST missing or of the wrong
# kind, DEST = the model's own directory, not writable, no space); nothing is
# left behind. Read-only and full filesystems are real tmpfs mounts in a
# private user+mount namespace (unshare -rm); without one those two cases are
# skipped with a note.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"
need_mkmoe

# expect_err CODE TEXT [moetier stage args]
expect_err() {
    code=$1 text=$2
    shift 2
    "$MOETIER" stage "$@" > "$TMP/o" 2> "$TMP/e"
    got=$?
    [ "$got" -eq "$code" ] || { cat "$TMP/o" "$TMP/e"; fail "moetier stage $*: exit $got, expected $code"; }
    [ "$(wc -l < "$TMP/e")" -eq 1 ] || { cat "$TMP/e"; fail "moetier stage $*: not one line on stderr"; }
    grep -q "^moetier stage: .*$text" "$TMP/e" || { cat "$TMP/e"; fail "moetier stage $*: no '$text'"; }
}

M=$TMP/m.gguf
mkmodel "$M" q8_0
mkdir "$TMP/pmem"

"$MOETIER" --help | grep -q "^  stage " || fail "moetier --help does not list stage"
"$MOETIER" stage --help | grep -q "^usage: moetier stage MODEL.gguf DEST" || fail "no usage line"
expect_err 2 "usage: moetier stage MODEL.gguf DEST"
expect_err 2 "usage: moetier stage MODEL.gguf DEST" "$M"
expect_err 2 "unexpected argument 'x'" "$M" "$TMP/pmem" x
expect_err 2 "unknown option '--frob'" --frob "$M" "$TMP/pmem"
expect_err 2 "exclude each other" --check --force "$M" "$TMP/pmem"

expect_err 2 "$TMP/none.gguf: no such model file" "$TMP/none.gguf" "$TMP/pmem"
echo "not a model at all" > "$TMP/text.gguf"
expect_err 2 "not a GGUF model: not a GGUF file" "$TMP/text.gguf" "$TMP/pmem"
expect_err 2 "$TMP/nodir: no such directory or device" "$M" "$TMP/nodir"
expect_err 2 "neither a directory nor a device-dax device" "$M" "$TMP/text.gguf"
expect_err 2 "/dev/null: a character device, but not a device-dax device" "$M" /dev/null
# the model's own directory: refused before anything is written
cp "$M" "$TMP/m.orig"
expect_err 2 "is the directory the model is in" "$M" "$TMP"
cmp "$M" "$TMP/m.orig" || fail "the model was changed"
[ -e "$M.moetier-stage" ] && fail "a record was left next to the model"
# --check of a model never staged: 1 (a mismatch), not 2
"$MOETIER" stage --check "$M" "$TMP/pmem" > "$TMP/o" 2> "$TMP/e"
[ $? -eq 1 ] || fail "--check of an unstaged model: expected exit 1"
grep -q "not staged" "$TMP/o" || { cat "$TMP/o"; fail "--check does not say 'not staged'"; }
[ -z "$(ls "$TMP/pmem")" ] || fail "errors left files in DEST: $(ls "$TMP/pmem")"

if unshare -rm true 2>/dev/null; then
    mkdir "$TMP/ro" "$TMP/small"
    # a read-only filesystem
    unshare -rm sh -c 'mount -t tmpfs -o ro none "$1" && exec "$2" stage "$3" "$1"' sh \
        "$TMP/ro" "$MOETIER" "$M" > "$TMP/o" 2> "$TMP/e"
    rc=$?
    [ $rc -eq 2 ] || { cat "$TMP/o" "$TMP/e"; fail "read-only DEST: exit $rc, expected 2"; }
    grep -q "^moetier stage: $TMP/ro: not writable (Read-only file system)" "$TMP/e" ||
        { cat "$TMP/e"; fail "read-only DEST: message"; }
    # a 1 MiB filesystem for a 5 MiB model: refused before writing
    unshare -rm sh -c 'mount -t tmpfs -o size=1m none "$1" && "$2" stage "$3" "$1"; rc=$?; ls -A "$1" > "$4"; exit $rc' sh \
        "$TMP/small" "$MOETIER" "$M" "$TMP/left" > "$TMP/o" 2> "$TMP/e"
    rc=$?
    [ $rc -eq 2 ] || { cat "$TMP/o" "$TMP/e"; fail "full DEST: exit $rc, expected 2"; }
    grep -q "^moetier stage: no space in $TMP/small: the model needs 4.88 MiB more, 1.00 MiB free" "$TMP/e" ||
        { cat "$TMP/e"; fail "full DEST: message"; }
    [ -s "$TMP/left" ] && fail "full DEST: files left behind: $(cat "$TMP/left")"
else
    note "unshare -rm not permitted here: read-only and full DEST not tested"
fi
echo "PASS: $test_name"
