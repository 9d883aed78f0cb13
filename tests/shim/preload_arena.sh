#!/bin/sh
# A plain LD_PRELOAD (no `moetier run`, no GLIBC_TUNABLES) gets the numa:N
# tier's jemalloc arena: libmoetier.so loads its private jemalloc at start-up,
# when static TLS is still there (issue 14, defect 6). This host's node 0
# stands in for the slow node: the arena binds weight buffers to it either way.
. "$(dirname "$0")/../lib.sh"
need_shim
P=${TESTS_BIN:-$TOP_BUILDDIR/tests/bin}/preload_probe
[ -x "$P" ] || P=$TOP_BUILDDIR/tests/bin/preload_probe
[ -d /sys/devices/system/node/node0 ] || skip "no /sys/devices/system/node/node0 (kernel without NUMA)"
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 64 -q || fail "mkmoe"
unset GLIBC_TUNABLES
MOETIER_SLOW=numa:0 MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_STATS_DIR="$TMP/stats" LD_PRELOAD="$MOETIER_LIB" \
    "$P" alloc "$TMP/m.gguf" 0 > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "preload_probe alloc"; }
cat "$TMP/out"
grep -q "weight buffers go to a jemalloc arena bound to node 0" "$TMP/out" || fail "no slow arena under a plain LD_PRELOAD"
# the process's allocator is still glibc's: jemalloc's malloc stays hidden
LD_PRELOAD="$MOETIER_LIB" sh -c 'exit 0' || fail "a shell under the preload"
echo "PASS: $test_name"
