#!/bin/sh
# tests/qemu/kernel_paths.sh: boots the qemu guest (tests/qemu/run-guest) and
# runs guest_kernel_paths in every phase (numa, fsdax, devdax, kmem): the real
# kernel paths moetier relies on. Skips only when qemu-system-x86_64 is not
# installed; a kernel that cannot be fetched, a guest that times out or any
# failed check is a failure.
. "${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

prog=${TESTS_BIN:-$TOP_BUILDDIR/tests/bin}/guest_kernel_paths
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
    skip "qemu-system-x86_64 is not installed (Debian: qemu-system-x86; run scripts/setup-deps)"
[ -x "$prog" ] || fail "$prog not built (make check builds it)"

"$TOP_SRCDIR/tests/qemu/run-guest" "$prog" > "$TMP/guest.log" 2>&1
rc=$?
cat "$TMP/guest.log"
[ $rc -eq 77 ] && skip "run-guest could not start qemu"
[ $rc -eq 0 ] || fail "the guest run failed (exit $rc; see above)"
# every phase must really have run the checks: 4 passes, no skip
grep -q '^MOETIER-GUEST-RESULT: 4 passed, 0 failed, 0 skipped' "$TMP/guest.log" ||
    fail "expected guest_kernel_paths to pass in all 4 phases: $(grep '^MOETIER-GUEST-RESULT' "$TMP/guest.log")"
exit 0
