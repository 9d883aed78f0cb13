#!/bin/sh
# A staged copy steers what the binary reads, so only a copy no one else can
# write is served: one writable by group or others, or another user's, is
# refused with one line (the original is read instead). Staging never writes
# through a symbolic link planted at the copy's or the record's name, and
# makes the copy writable by its owner only. docs/threat-model.md.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"
need_mkmoe

mkmodel "$TMP/m.gguf" q8_0
chmod 664 "$TMP/m.gguf" # a group-writable original: the copy still is not
D=$TMP/pmem
mkdir "$D"
victim=$TMP/victim
echo "precious" > "$victim"

# links planted at the copy's name and at the record's temporary name
ln -s "$victim" "$D/m.gguf"
run_stage 1 "$TMP/out" "$TMP/m.gguf" "$D" -q
[ "$(cat "$victim")" = precious ] || fail "staging wrote through a link at the copy's name"
rm "$D/m.gguf"
ln -s "$victim" "$D/m.gguf.moetier-stage.tmp"
run_stage 0 "$TMP/out" "$TMP/m.gguf" "$D" -q
[ "$(cat "$victim")" = precious ] || fail "staging wrote through a link at the record's temporary name"
[ -f "$D/m.gguf.moetier-stage" ] && [ ! -L "$D/m.gguf.moetier-stage" ] || fail "no record written"
mode=$(stat -c %a "$D/m.gguf")
[ "$mode" = 644 ] || fail "the copy has mode $mode, expected 644 (no group/other write)"
expect_found "pmem:$D" "$TMP/m.gguf" "ok "

chmod g+w "$D/m.gguf"
expect_found "pmem:$D" "$TMP/m.gguf" "EPERM" "writable by group or others"
chmod g-w,o+w "$D/m.gguf"
expect_found "pmem:$D" "$TMP/m.gguf" "EPERM" "writable by group or others"
chmod o-w "$D/m.gguf"
expect_found "pmem:$D" "$TMP/m.gguf" "ok "
if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1; then
    chown nobody "$D/m.gguf"
    expect_found "pmem:$D" "$TMP/m.gguf" "EPERM" "another user's"
else
    note "not root: another user's copy is covered only by the code"
fi
echo "PASS: $test_name"
