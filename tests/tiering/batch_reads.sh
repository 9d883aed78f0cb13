#!/bin/sh
# Batches of several tokens under the read room, in a real memory cgroup
# smaller than the model: a model of 160 experts a layer, top-8, whose
# 13-token prompt chooses more experts a layer than a room step takes (64),
# so those layers are read in place and leave; the decode steps go through
# the room. The real llama.cpp (the driver), plain and under moetier's
# defaults: tokens identical; the prompt's layers were read as batches and
# read in place. Needs root and a cgroup memory controller; skips otherwise.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
need_mkmoe
# 195 MiB of experts in 96M
memory_cgroup batch 96M
trap 'rmdir "$cg" 2> /dev/null; rm -rf "$TMP"' EXIT
"$MOETIER" mkmoe "$TMP/m.gguf" --layers 3 --experts 160 --used 8 --embd 256 -q || fail "mkmoe"

run() { # NAME [VAR=VALUE...]: the driver in the cgroup, the model's page cache dropped first
    name=$1
    shift
    dd if="$TMP/m.gguf" iflag=nocache count=0 status=none
    in_cgroup env "$@" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 40 -n 8 \
        > "$TMP/$name.out" 2> "$TMP/$name.err" || { cat "$TMP/$name.err"; fail "$name: the driver failed in the cgroup"; }
}
run plain
want=$(field "$TMP/plain.out" tokens)
[ -n "$want" ] || fail "no tokens without the preload"
run moe LD_PRELOAD="$MOETIER_LIB" MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_STATS_DIR="$TMP/stats"
err=$TMP/moe.err
[ "$want" = "$(field "$TMP/moe.out" tokens)" ] || fail "tokens differ under the cap: $(cat "$err")"
grep -q "sampler: routing with exact reads" "$err" || fail "no exact reads: $(cat "$err")"
grep -q "exact reads: .*; [1-9][0-9]* layers of batches" "$err" ||
    fail "no batch read layer by layer: $(grep 'exact reads' "$err")"
grep -q "read room (policy [a-z]*): [1-9][0-9]* layer steps, .*, [1-9][0-9]* layers of wide batches read in place" "$err" ||
    fail "the prompt's wide layers were not read in place: $(grep 'read room' "$err")"
grep -q "warn" "$err" && fail "a warning: $(grep warn "$err")"
note "$(grep -o 'exact reads: .*' "$err")"
note "$(grep -o 'read room (policy.*' "$err")"
echo "PASS: $test_name"
