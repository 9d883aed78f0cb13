#!/bin/sh
# A split model (NAME-00001-of-00002.gguf + part 2, the committed test split):
# staging the first part stages both, each with its own record; an unchanged
# part is kept when only the other changed; naming a later part is refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"

SRC=$TOP_SRCDIR/tests/gguf/models
mkdir "$TMP/model" "$TMP/pmem"
cp "$SRC/split-00001-of-00002.gguf" "$SRC/split-00002-of-00002.gguf" "$TMP/model/" ||
    fail "no committed split model in $SRC"
P1=$TMP/model/split-00001-of-00002.gguf P2=$TMP/model/split-00002-of-00002.gguf
D=$TMP/pmem S=pmem:$TMP/pmem

run_stage 0 "$TMP/out" "$P1" "$D" -q
grep -q "(2 files)" "$TMP/out" || { cat "$TMP/out"; fail "not staged as two files"; }
grep -q "staged 2 files" "$TMP/out" || { cat "$TMP/out"; fail "not two files staged"; }
for p in "$P1" "$P2"; do
    b=$(basename "$p")
    cmp "$p" "$D/$b" || fail "$b: the copy differs"
    [ -f "$D/$b.moetier-stage" ] || fail "$b: no record"
    expect_found "$S" "$p" "ok $D/$b 0 $(stat -c %s "$p") 0 "
done
run_stage 0 "$TMP/out" "$P1" "$D"
grep -q "already staged and unchanged" "$TMP/out" || { cat "$TMP/out"; fail "re-stage of a split was not a no-op"; }

# only part 2 changed: part 1 is kept, part 2 copied again
touch -d '2002-03-04' "$P2"
expect_found "$S" "$P2" "ESTALE"
expect_found "$S" "$P1" "ok "
run_stage 0 "$TMP/out" "$P1" "$D" -q
grep -q "split-00001-of-00002.gguf  unchanged since staged; kept" "$TMP/out" || { cat "$TMP/out"; fail "part 1 not kept"; }
grep -q "split-00002-of-00002.gguf .* copied, verified" "$TMP/out" || { cat "$TMP/out"; fail "part 2 not copied"; }
grep -q "staged 1 file" "$TMP/out" || { cat "$TMP/out"; fail "expected one file staged"; }
expect_found "$S" "$P2" "ok "
run_stage 0 "$TMP/chk" --check "$P1" "$D"
[ "$(grep -c "the copy matches the original" "$TMP/chk")" -eq 2 ] || { cat "$TMP/chk"; fail "--check of both parts"; }

# a later part on its own, or a missing part, is not a model
run_stage 2 "$TMP/err" "$P2" "$D"
grep -q "not a GGUF model" "$TMP/err" || { cat "$TMP/err"; fail "a later part was accepted"; }
rm "$P2"
run_stage 2 "$TMP/err" "$P1" "$D"
[ "$(wc -l < "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "more than one line for a missing part"; }
echo "PASS: $test_name"
