#!/bin/sh
# The moetier command's conventions (--help, --version, exit codes) and
# mkmoe's option checking: bad usage is exit 2 with one line naming the problem.
. "$(dirname "$0")/../lib.sh"

"$MOETIER" --help > "$TMP/help" || fail "moetier --help exited $?"
grep -q "^usage: moetier COMMAND" "$TMP/help" || fail "moetier --help: no usage line"
for cmd in inspect mkmoe trace; do
    grep -q "^  $cmd " "$TMP/help" || fail "moetier --help does not list $cmd"
    "$MOETIER" $cmd --help > "$TMP/h" 2>&1 || fail "moetier $cmd --help exited $?"
    grep -q "^usage: moetier $cmd" "$TMP/h" || fail "moetier $cmd --help: no usage line"
done
"$MOETIER" --version | grep -q "^moetier [0-9]" || fail "--version"
"$MOETIER" > /dev/null 2>&1; [ $? -eq 2 ] || fail "no command: expected exit 2"
"$MOETIER" frobnicate > /dev/null 2> "$TMP/err"; [ $? -eq 2 ] || fail "unknown command: expected exit 2"
grep -q "unknown command 'frobnicate'" "$TMP/err" || fail "unknown command message: $(cat "$TMP/err")"

# expect_usage MESSAGE-FRAGMENT ARGS...: exit 2, one stderr line containing the fragment, no file
expect_usage() {
    frag=$1
    shift
    "$MOETIER" mkmoe "$@" > /dev/null 2> "$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "mkmoe $*: exit $rc, expected 2"
    [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "mkmoe $*: expected one line on stderr: $(cat "$TMP/err")"
    grep -q -- "$frag" "$TMP/err" || fail "mkmoe $*: message lacks '$frag': $(cat "$TMP/err")"
}
expect_usage "exactly one output" 
expect_usage "exactly one output" a.gguf b.gguf
expect_usage "--layers: 'x'" "$TMP/m.gguf" --layers x
expect_usage "--layers: '0'" "$TMP/m.gguf" --layers 0
expect_usage "--type: 'q5_1'" "$TMP/m.gguf" --type q5_1
expect_usage "--size: 'big'" "$TMP/m.gguf" --size big
expect_usage "--used 9 is more than --experts 8" "$TMP/m.gguf" --used 9
expect_usage "multiples of 32" "$TMP/m.gguf" --embd 100
expect_usage "--seed" "$TMP/m.gguf" --seed -3
expect_usage "unknown" "$TMP/m.gguf" --frobnicate
expect_usage "No such file" "$TMP/m.gguf" --routing "$TMP/none.counts"
printf '# model=x layers=2 experts=4 topk=2\n0,1 2,9\n' > "$TMP/bad.trace"
expect_usage "line 2: layer 1: expert id 9 out of range" "$TMP/m.gguf" --routing "$TMP/bad.trace"
[ ! -e "$TMP/m.gguf" ] || fail "a model was written despite bad usage"

# an unwritable destination is a runtime failure (exit 1), not a crash
"$MOETIER" mkmoe /nonexistent-dir/m.gguf -q 2> "$TMP/err"; rc=$?
[ $rc -eq 1 ] || fail "unwritable output: exit $rc, expected 1"
grep -q "No such file or directory" "$TMP/err" || fail "unwritable output message: $(cat "$TMP/err")"
echo "PASS: $test_name"
