#!/bin/sh
# tests/numa/guest.sh: boots the qemu guest (tests/qemu/run-guest) and runs
# guest_numa in the phases where a CPU-less node exists (numa: a DRAM-only
# node; kmem: the NVDIMM onlined as system RAM, a lower memory tier), and
# test_numa_two_nodes, which skips on a single-node host, there too. Passed
# in with --file: libjemalloc.so.2 and the libraries it needs (the slow arena
# dlopens it, so ldd of guest_numa does not list it) and brd.ko from the guest
# kernel (an ext4 on a RAM disk, so a file can be read for the first time).
# Skips only when qemu-system-x86_64 is not installed.
. "${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

bin=${TESTS_BIN:-$TOP_BUILDDIR/tests/bin}
prog=$bin/guest_numa
two=$bin/test_numa_two_nodes
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
    skip "qemu-system-x86_64 is not installed (Debian: qemu-system-x86; run scripts/setup-deps)"
[ -x "$prog" ] && [ -x "$two" ] || fail "$prog or $two not built (make check builds them)"

je=
for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/libjemalloc.so.2" ] && { je=$d/libjemalloc.so.2; break; }
done
[ -n "$je" ] || fail "libjemalloc.so.2 not found on the host (Debian: libjemalloc2)"
set -- --file "$je"
for lib in $(ldd "$je" | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p'); do
    set -- "$@" --file "$lib"
done

kenv=$("$TOP_SRCDIR/tests/qemu/guest-kernel") || fail "no guest kernel (tests/qemu/guest-kernel failed)"
eval "$kenv"
brd=$(find "$GUEST_KROOT/lib/modules/$GUEST_KVER" -name 'brd.ko*' | head -n 1)
if [ -n "$brd" ]; then
    set -- "$@" --file "$brd:brd.ko"
else
    note "no brd.ko in the guest kernel: first-read placement on ext4 will not be checked"
fi

run_guest "4 passed, 0 failed, 0 skipped" --phases numa,kmem "$@" "$prog" "$two"
exit 0
