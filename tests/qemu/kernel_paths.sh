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

# every phase must really have run the checks: 4 passes, no skip
run_guest "4 passed, 0 failed, 0 skipped" "$prog"
exit 0
