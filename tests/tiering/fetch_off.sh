#!/bin/sh
# Tiering turns itself off after asking for the fetch sampler, and the fetch
# sampler goes with it (issue 14, defect 5). The real llama.cpp loads the
# weights into anonymous buffers (--no-mmap) in a cgroup whose memory limit
# leaves less room than the model: the file tier wants the fetch sampler
# (locking, the model does not fit), then finds no expert tensor in a file
# mapping and turns off. Sampling must then follow MOETIER_SAMPLE_MS (60 s
# here: a sample or two in the run), not go on every decode step as the fetch
# sampler does (before the fix: 117 of 120 steps). Needs root and a cgroup
# memory controller (v1 or v2); skips otherwise.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
# room for the 84 MB of weights and the rest, not for the model's 1.25x
memory_cgroup fetch-off 160M
trap 'rmdir "$cg" 2> /dev/null; rm -rf "$TMP"' EXIT

olmoe_model "$TMP/m.gguf"
in_cgroup env LD_PRELOAD="$MOETIER_LIB" \
    MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_STATS_DIR="$TMP/stats" MOETIER_SAMPLE_MS=60000 \
    "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --no-mmap --feed "$TEXT" --feed-max 100 -n 20 \
    > "$TMP/off.out" 2> "$TMP/off.err" || { cat "$TMP/off.err"; fail "the driver failed in the cgroup"; }
grep -q "no expert tensor is in a read-only shared file mapping" "$TMP/off.err" ||
    fail "tiering did not turn itself off as this test needs: $(grep moetier "$TMP/off.err")"
! grep -q "sampler: fetch" "$TMP/off.err" || fail "the fetch sampler was built after tiering turned off"
sampled=$(sed -n 's/.*info: sampled \([0-9]*\) of \([0-9]*\) decode tokens.*/\1 \2/p' "$TMP/off.err")
set -- $sampled
[ $# = 2 ] || fail "no 'sampled N of M' line: $(grep moetier "$TMP/off.err")"
[ $(($1 * 4)) -lt "$2" ] ||
    fail "$1 of $2 decode steps sampled with MOETIER_SAMPLE_MS=60000: the fetch sampler outlived tiering"
note "tiering off: $1 of $2 decode steps sampled (MOETIER_SAMPLE_MS=60000)"
echo "PASS: $test_name"
