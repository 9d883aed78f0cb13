#!/bin/sh
# The file tier under a real memory cap: the real llama.cpp in a cgroup whose
# memory limit is below the model's size, plain and under moetier (defaults:
# promotion by locking, the hot policy, the routing sampler's exact reads of
# each MoE layer's chosen experts; and with MOETIER_SAMPLER=fault, the fetch
# sampler reading each touched expert in whole at its fault; with
# MOETIER_READ_ROOM=off, exact reads alone; with MOETIER_PREFETCH_GATE, the
# room reading the next layer's likely experts ahead). Tokens
# identical, the reads in use, experts locked and promoted, nothing failed. Speed is the benchmark's business
# (docs/bench-capped.md), not this test's. Needs root and a cgroup memory
# controller (v1 or v2); skips otherwise.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
memory_cgroup fetch 56M
trap 'rmdir "$cg" 2> /dev/null; rm -rf "$TMP"' EXIT

olmoe_model "$TMP/m.gguf"

# capped NAME [VAR=VALUE...]: the driver in the cgroup, the model's page cache dropped first
capped() {
    name=$1
    shift
    dd if="$TMP/m.gguf" iflag=nocache count=0 status=none
    in_cgroup env "$@" "$LLAMA_DRIVER" --quiet \
        -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 300 -n 8 > "$TMP/$name.out" 2> "$TMP/$name.err" ||
        { cat "$TMP/$name.err"; fail "$name: the driver failed in the cgroup"; }
}
capped plain
want=$(field "$TMP/plain.out" tokens)
[ -n "$want" ] || fail "no tokens without the preload"
moe="LD_PRELOAD=$MOETIER_LIB MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_STATS_DIR=$TMP/stats"
capped reads $moe
capped locked $moe MOETIER_DRAM=12M
capped fetch $moe MOETIER_SAMPLER=fault
capped alone $moe MOETIER_READ_ROOM=off MOETIER_DRAM=1M
capped gated $moe MOETIER_PREFETCH_GATE=0.2
for run in reads locked fetch; do
    err=$TMP/$run.err
    [ "$want" = "$(field "$TMP/$run.out" tokens)" ] || fail "$run: tokens differ under the cap: $(cat "$err")"
    grep -q "promotion by locking the page cache, policy hot" "$err" || fail "$run: not locking: $(cat "$err")"
    some='[1-9][0-9]*'
    [ $run = reads ] && some='[0-9]*' # the room takes the hot set's memory once the reads run
    grep -q "tiering: $some promotions ([^)]*), [0-9]* demotions, 0 failed" "$err" ||
        fail "$run: no promotions, or failures: $(grep 'tiering:' "$err")"
    grep -q "warn" "$err" && fail "$run: a warning: $(grep warn "$err")"
done
# by default the read room takes the memory; MOETIER_DRAM keeps a locked hot set beside it
grep -q "read room: the page cache these reads fill is moetier's expert cache" "$TMP/reads.err" ||
    fail "the read room does not take the hot set's memory: $(cat "$TMP/reads.err")"
grep -q "read room: the page cache these reads fill" "$TMP/locked.err" &&
    fail "MOETIER_DRAM=12M: the read room took the locked set's memory"
grep -q "tiering: .* of a 0 B budget" "$TMP/reads.err" ||
    fail "the hot set kept its budget beside the room: $(grep 'tiering:' "$TMP/reads.err")"
grep -q "sampler: routing with exact reads, 9 expert tensors in the file mapping, every decode step" "$TMP/reads.err" ||
    fail "no exact reads: $(cat "$TMP/reads.err")"
grep -q "exact reads: [1-9][0-9]* expert slices advised" "$TMP/reads.err" || fail "nothing read: $(cat "$TMP/reads.err")"
grep -q "exact reads: .* [1-9][0-9]* layer steps took [0-9]* us in the decode thread" "$TMP/reads.err" ||
    fail "the layer steps were not counted and timed: $(grep 'exact reads' "$TMP/reads.err")"
# the prompt (one batch of several tokens) is read layer by layer too: every MoE layer once
grep -q "exact reads: .*; 3 layers of batches" "$TMP/reads.err" ||
    fail "the prompt batch was not read layer by layer: $(grep 'exact reads' "$TMP/reads.err")"
# the read room: sized from the cap, run by the policy, its victims dropped
for run in reads locked; do
    grep -q "read room: [1-9][0-9]* experts of .* (policy adapt) in the .* the page cache may hold" "$TMP/$run.err" ||
        fail "$run: no read room: $(cat "$TMP/$run.err")"
    grep -q "read room (policy adapt): [1-9][0-9]* layer steps, [1-9][0-9]* experts read on a miss ([0-9]* without a place), 0 prefetched (0 used), [1-9][0-9]* evicted" \
        "$TMP/$run.err" || fail "$run: the read room evicted nothing: $(grep 'read room' "$TMP/$run.err")"
done
grep -q "read room" "$TMP/fetch.err" && fail "MOETIER_SAMPLER=fault: a read room without exact reads"
# the prefetch gate: the next layer's likely experts read ahead, some of them used, the same tokens
[ "$want" = "$(field "$TMP/gated.out" tokens)" ] || fail "MOETIER_PREFETCH_GATE=0.2: tokens differ: $(cat "$TMP/gated.err")"
grep -q "read room: prefetch gate 0.2 (MOETIER_PREFETCH_GATE)" "$TMP/gated.err" ||
    fail "MOETIER_PREFETCH_GATE=0.2 not in the plan: $(cat "$TMP/gated.err")"
grep -q "read room (policy adapt): .* [1-9][0-9]* prefetched ([1-9][0-9]* used)" "$TMP/gated.err" ||
    fail "MOETIER_PREFETCH_GATE=0.2: nothing prefetched, or none used: $(grep 'read room' "$TMP/gated.err")"
grep -q "warn" "$TMP/gated.err" && fail "MOETIER_PREFETCH_GATE=0.2: a warning: $(grep warn "$TMP/gated.err")"
# MOETIER_READ_ROOM=off: exact reads alone, the kernel's reclaim deciding what leaves
[ "$want" = "$(field "$TMP/alone.out" tokens)" ] || fail "MOETIER_READ_ROOM=off: tokens differ: $(cat "$TMP/alone.err")"
grep -q "MOETIER_READ_ROOM=off: no read room" "$TMP/alone.err" || fail "MOETIER_READ_ROOM=off not in the plan: $(cat "$TMP/alone.err")"
grep -q "exact reads: [1-9][0-9]* expert slices advised" "$TMP/alone.err" ||
    fail "MOETIER_READ_ROOM=off: no exact reads: $(cat "$TMP/alone.err")"
grep -q "read room:\|read room (policy" "$TMP/alone.err" && fail "MOETIER_READ_ROOM=off: a read room ran: $(grep 'read room' "$TMP/alone.err")"
grep -q "warn" "$TMP/alone.err" && fail "MOETIER_READ_ROOM=off: a warning: $(grep warn "$TMP/alone.err")"
grep -q "sampler: fetch, 9 expert tensors, 192 experts covered" "$TMP/fetch.err" ||
    fail "MOETIER_SAMPLER=fault: no fetch sampler: $(cat "$TMP/fetch.err")"
for run in reads locked fetch; do
    note "56M cap, $run: identical tokens; $(grep -o 'sampled [0-9]* of [0-9]* decode tokens' "$TMP/$run.err"); $(grep -o 'tiering: [0-9]* promotions.*' "$TMP/$run.err")"
done
for run in reads locked gated; do
    note "$run: $(grep -o 'read room (policy.*' "$TMP/$run.err")"
done
for run in plain reads locked fetch alone; do note "$run prompt: $(grep -E '^prompt_(s|major)' "$TMP/$run.err" | tr '\n' ' ')"; done
echo "PASS: $test_name"
