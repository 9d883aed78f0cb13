#!/bin/sh
# moetier doctor (no --config): the machine report reads the real /proc and
# /sys (the figures match them), says which slow tier MOETIER_SLOW=auto would
# use and why, gives advice, and --json is one object with the documented keys.
. "$(dirname "$0")/../lib.sh"
"$MOETIER" doctor > "$TMP/out" || fail "moetier doctor exited $?"
for key in "kernel:" "numa nodes:" "pmem:" "dax mounts:" "huge pages:" "max_map_count:" "memlock:" "memory:" \
    "cuda:" "samplers:" "slow tier:" "advice:"; do
    grep -q "^$key" "$TMP/out" || fail "no '$key' line: $(cat "$TMP/out")"
done
grep -q "^max_map_count:   $(cat /proc/sys/vm/max_map_count)\$" "$TMP/out" || fail "max_map_count differs from /proc"
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
grep -q "^numa nodes:      $nodes\$" "$TMP/out" || fail "node count differs from /sys ($nodes)"
"$MOETIER" doctor --json > "$TMP/json" || fail "doctor --json exited $?"
command -v node > /dev/null || { echo "PASS: $test_name (JSON not parsed: no node)"; exit 0; }
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const keys = ["schema", "kernel", "numa_nodes", "pmem", "dax_mounts", "hugepages", "max_map_count", "memlock",
              "memory", "cuda", "sampler", "slow_tier", "advice"];
for (const k of keys) if (!(k in j)) { console.error("missing " + k); process.exit(1); }
if (j.schema !== 1 || !/^(file|numa:\d+|pmem:\/.*|devdax:\/dev\/dax.*)$/.test(j.slow_tier.choice)) process.exit(1);
if (!Array.isArray(j.advice) || j.numa_nodes.length < 1) process.exit(1);
console.log("doctor: slow tier " + j.slow_tier.choice + "; " + j.advice.length + " advice line(s)");
' "$TMP/json" || fail "doctor --json: $(cat "$TMP/json")"
# on an x86 CPU with AVX2 llama.cpp repacks K-quant experts out of the file
# mapping: doctor says so, with the fix (docs/programs.md)
if grep -qw avx2 /proc/cpuinfo; then
    grep -q 'repacks q4_0, q4_K.*--no-repack' "$TMP/json" || fail "doctor does not say that llama.cpp repacks experts here"
fi
echo "PASS: $test_name"
