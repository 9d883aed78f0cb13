#!/bin/sh
# moetier stage into a directory (any directory: here a temporary one, where
# libpmem2 reports PAGE granularity): the copy is byte-identical, the record
# is found by moetier_stage_find, re-staging an unchanged model is a no-op,
# --force copies again, --check passes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"
need_mkmoe

mkmodel "$TMP/m.gguf" q8_0
mkdir "$TMP/pmem"
D=$TMP/pmem
run_stage 0 "$TMP/out" "$TMP/m.gguf" "$D" -q
grep -q "granularity PAGE: not persistent memory" "$TMP/out" || { cat "$TMP/out"; fail "no granularity line"; }
grep -q "m.gguf .* copied, verified  xxh64 [0-9a-f]\{16\}" "$TMP/out" || { cat "$TMP/out"; fail "no copy line"; }
cmp "$TMP/m.gguf" "$D/m.gguf" || fail "the copy differs from the model"
[ -f "$D/m.gguf.moetier-stage" ] || fail "no record file"
ls -a "$D" | grep -q tmp && fail "a temporary record was left: $(ls -a "$D")"

size=$(stat -c %s "$TMP/m.gguf")
expect_found "pmem:$D" "$TMP/m.gguf" "ok $D/m.gguf 0 $size 0 "
# through a relative path and a symlinked directory
(cd "$TMP" && "$FIND" find "pmem:$D" m.gguf) | grep -q "^ok " || fail "not found through a relative path"
ln -s "$TMP" "$TMP/link"
expect_found "pmem:$D" "$TMP/link/m.gguf" "ok "
# the full hash in the output is the content's XXH64, which --check recomputes
h=$(sed -n 's/.*xxh64 \([0-9a-f]*\).*/\1/p' "$TMP/out")
"$FIND" check "pmem:$D" "$TMP/m.gguf" | grep -q "^ok $h" || fail "check_full does not give the printed hash $h"

# unchanged: a no-op that leaves the copy and the record alone
cp "$D/m.gguf.moetier-stage" "$TMP/rec.before"
run_stage 0 "$TMP/out2" "$TMP/m.gguf" "$D"
grep -q "already staged and unchanged" "$TMP/out2" || { cat "$TMP/out2"; fail "re-stage was not a no-op"; }
grep -q "copied" "$TMP/out2" && fail "re-stage copied"
cmp -s "$D/m.gguf.moetier-stage" "$TMP/rec.before" || fail "the no-op rewrote the record"

# --force copies again (a new record)
run_stage 0 "$TMP/out3" "$TMP/m.gguf" "$D" --force -q
grep -q "copied, verified" "$TMP/out3" || { cat "$TMP/out3"; fail "--force did not copy"; }
cmp -s "$D/m.gguf.moetier-stage" "$TMP/rec.before" && fail "--force kept the old record"
cmp "$TMP/m.gguf" "$D/m.gguf" || fail "the copy differs after --force"
expect_found "pmem:$D" "$TMP/m.gguf" "ok "

run_stage 0 "$TMP/out4" --check "$TMP/m.gguf" "$D"
grep -q "the copy matches the original (xxh64 $h)" "$TMP/out4" || { cat "$TMP/out4"; fail "--check output"; }
echo "PASS: $test_name"
