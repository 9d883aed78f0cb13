#!/bin/sh
# The qemu guest's stage program (tests/bin/guest_stage) run on the host, so
# that it cannot rot between guest runs: its fsdax phase on a plain directory
# (a model, the committed split, an oversized sparse model) passes only when
# told that PAGE granularity is acceptable, and fails (naming PAGE) when not;
# other phases, and a guest environment that is not there, are n/a (77). The
# real runs happen in the guest, on an emulated NVDIMM (fsdax and devdax).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/stage_lib.sh"
need_mkmoe
G=$TESTS_BIN/guest_stage
[ -x "$G" ] || skip "guest_stage not built ($G missing): make check builds it"

mkdir "$TMP/files" "$TMP/pmem"
mkmodel "$TMP/files/model.gguf" q8_0
cp "$TOP_SRCDIR"/tests/gguf/models/split-0000[12]-of-00002.gguf "$TMP/files/" || fail "no committed split model"
export MOETIER_GUEST_FILES="$TMP/files" MOETIER_GUEST_PMEM_DIR="$TMP/pmem"
unset MOETIER_GUEST_DAX MOETIER_GUEST_NOT_PMEM_OK

"$G" numa > "$TMP/o" 2>&1; rc=$?
[ $rc -eq 77 ] || { cat "$TMP/o"; fail "phase numa: exit $rc, expected 77"; }
"$G" devdax > "$TMP/o" 2>&1; rc=$?
[ $rc -eq 77 ] || { cat "$TMP/o"; fail "phase devdax without a device: exit $rc, expected 77"; }

"$G" fsdax > "$TMP/o" 2>&1; rc=$?
[ $rc -eq 1 ] || { cat "$TMP/o"; fail "fsdax on a non-DAX directory: exit $rc, expected 1"; }
grep -q "^FAIL: guest_stage fsdax: libpmem2 reports PAGE granularity" "$TMP/o" || { cat "$TMP/o"; fail "no PAGE failure"; }

MOETIER_GUEST_NOT_PMEM_OK=1 "$G" fsdax > "$TMP/o" 2>&1; rc=$?
[ $rc -eq 0 ] || { cat "$TMP/o"; fail "fsdax smoke run: exit $rc"; }
grep -q "^PASS: guest_stage fsdax" "$TMP/o" || { cat "$TMP/o"; fail "no PASS line"; }
grep -q "^guest_stage fsdax: part 2 at $TMP/pmem/split-00002-of-00002.gguf" "$TMP/o" ||
    { cat "$TMP/o"; fail "the split model was not staged"; }
grep -q "^moetier stage: no space in $TMP/pmem" "$TMP/o" || { cat "$TMP/o"; fail "the oversized model was not refused"; }
cmp "$TMP/files/model.gguf" "$TMP/pmem/model.gguf" || fail "the guest program's copy differs"
echo "PASS: $test_name"
