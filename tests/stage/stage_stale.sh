#!/bin/sh
# What makes a staged copy stale (moetier_stage_find -ESTALE) and what
# re-staging does about it: the original's mtime; one changed byte of the
# original in a sampled block (mtime restored: only the sampled hash sees it);
# one changed byte of the copy in a sampled block; a byte outside every
# sampled block (the runtime's check misses it by design, --check finds it);
# the original replaced by another file; the copy removed; a damaged record;
# no record.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"
need_mkmoe

M=$TMP/m.gguf D=$TMP/pmem S=pmem:$TMP/pmem
mkmodel "$M" q8_0
mkdir "$D"
size=$(stat -c %s "$M")
[ "$size" -gt $((64 * 65536 + 65536)) ] || fail "the model ($size bytes) is too small to have unsampled gaps"
run_stage 0 "$TMP/out" "$M" "$D" -q
expect_found "$S" "$M" "ok "

# 1. mtime
touch -d '2001-02-03 04:05:06' "$M"
expect_found "$S" "$M" "ESTALE" "was modified since it was staged"
run_stage 0 "$TMP/out" "$M" "$D" -q
grep -q "copied, verified" "$TMP/out" || { cat "$TMP/out"; fail "a modified model was not copied again"; }
expect_found "$S" "$M" "ok "

# 2. one byte of the original in sampled block 17, size/mtime/inode kept
set -- $(block 17 "$size")
boff=$1 blen=$2
touch -r "$M" "$TMP/stamp"
flip "$M" $((boff + 1000))
touch -r "$TMP/stamp" "$M"
expect_found "$S" "$M" "ESTALE" "content differs from what was staged at sampled blocks"
run_stage 1 "$TMP/chk" --check "$M" "$D"
grep -q "MISMATCH: .*the copy differs from the original" "$TMP/chk" || { cat "$TMP/chk"; fail "--check output"; }
run_stage 0 "$TMP/out" "$M" "$D" -q
cmp "$M" "$D/m.gguf" || fail "re-staging did not bring the copy up to date"
expect_found "$S" "$M" "ok "

# 3. one byte of the copy in a sampled block
flip "$D/m.gguf" $((boff + 7))
expect_found "$S" "$M" "ESTALE" "damaged copy"
run_stage 0 "$TMP/out" "$M" "$D" -q
grep -q "copied, verified" "$TMP/out" || { cat "$TMP/out"; fail "a damaged copy was not replaced"; }
cmp "$M" "$D/m.gguf" || fail "the damaged copy was not repaired"

# 4. one byte of the copy between sampled blocks 17 and 18: found (sampled
#    check), but --check (full hash) reports it, and --force repairs it
flip "$D/m.gguf" $((boff + blen))
expect_found "$S" "$M" "ok "
run_stage 1 "$TMP/chk" --check "$M" "$D"
grep -q "MISMATCH" "$TMP/chk" || { cat "$TMP/chk"; fail "--check missed a changed byte"; }
run_stage 0 "$TMP/out" "$M" "$D" -q
grep -q "already staged" "$TMP/out" || fail "expected the (sampled) no-op"
run_stage 0 "$TMP/out" "$M" "$D" -q --force
run_stage 0 "$TMP/chk" --check "$M" "$D"

# 5. the original replaced by another file with the same bytes and mtime
cp -p "$M" "$M.new" && mv "$M.new" "$M"
expect_found "$S" "$M" "ESTALE" "is another file now"
run_stage 0 "$TMP/out" "$M" "$D" -q
expect_found "$S" "$M" "ok "

# 6. the copy removed
rm "$D/m.gguf"
expect_found "$S" "$M" "ESTALE" "which is gone"
run_stage 1 "$TMP/chk" --check "$M" "$D"
run_stage 0 "$TMP/out" "$M" "$D" -q
expect_found "$S" "$M" "ok "

# 7. a damaged record (one byte of the entry), then no record
flip "$D/m.gguf.moetier-stage" 100
expect_found "$S" "$M" "EBADMSG" "checksum"
rm "$D/m.gguf.moetier-stage"
expect_found "$S" "$M" "ENOENT" "does not exist"
run_stage 1 "$TMP/chk" --check "$M" "$D"
grep -q "not staged" "$TMP/chk" || { cat "$TMP/chk"; fail "--check without a record"; }
# a copy without a record is copied again, not trusted
run_stage 0 "$TMP/out" "$M" "$D" -q
grep -q "copied, verified" "$TMP/out" || fail "no record, yet nothing copied"
expect_found "$S" "$M" "ok "

# 8. a record of another model with the same name
mkdir "$TMP/other"
mkmodel "$TMP/other/m.gguf" q8_0 --seed 8
expect_found "$S" "$TMP/other/m.gguf" "ENOENT" "is the record of $M"
echo "PASS: $test_name"
