#!/bin/sh
# Byte identity under the preload: the real llama.cpp generates exactly the same
# tokens with and without libmoetier.so, in one run, on the mmap path (pagemap
# sampler), the --no-mmap path and the repacked path (fault sampler), each page
# sampler asked for by name since the default under llama.cpp is the routing
# sampler (run too, on the mmap path), and the preload really was active in
# each (the profile it writes at exit has hits).
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

"$MOETIER" mkmoe "$TMP/q8.gguf" --embd 256 --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" -q ||
    fail "mkmoe q8_0"
"$MOETIER" mkmoe "$TMP/q4.gguf" --embd 256 --type q4_0 -q || fail "mkmoe q4_0"

run_pair() { # run_pair NAME MODEL [driver options]
    name=$1 model=$2
    shift 2
    drive "$TMP/$name.plain" -m "$model" --feed "$TEXT" --feed-max 200 -n 24 "$@"
    MOETIER_SAMPLER=${sampler:-$expect} MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_PROFILE="$TMP/$name.prof" MOETIER_STATS_DIR="$TMP/stats" MOETIER_LOG=info \
        LD_PRELOAD="$MOETIER_LIB" drive "$TMP/$name.shim" -m "$model" --feed "$TEXT" --feed-max 200 -n 24 "$@"
    a=$(field "$TMP/$name.plain.out" tokens)
    b=$(field "$TMP/$name.shim.out" tokens)
    [ -n "$a" ] || fail "$name: no tokens without the preload"
    [ "$a" = "$b" ] || fail "$name: tokens differ under the preload: [$a] vs [$b]"
    grep -q "sampler: $expect" "$TMP/$name.shim.err" ||
        { cat "$TMP/$name.shim.err"; fail "$name: expected the $expect sampler"; }
    [ -s "$TMP/$name.prof" ] || fail "$name: no profile written at exit"
    "$MOETIER" profile show --json "$TMP/$name.prof" > "$TMP/$name.json" || fail "$name: profile show"
    grep -q '"hits":[1-9]' "$TMP/$name.json" || fail "$name: the profile has no hits"
    [ -z "$(ls "$TMP/stats" 2>/dev/null)" ] || fail "$name: the stats segment was not removed at exit"
    note "$name: identical tokens [$a]"
}
expect=pagemap run_pair mmap "$TMP/q8.gguf" --mmap
sampler=auto expect=routing run_pair mmap_routing "$TMP/q8.gguf" --mmap
expect=fault run_pair nommap "$TMP/q8.gguf" --no-mmap
expect=fault run_pair repack "$TMP/q4.gguf" --mmap --repack
expect=fault run_pair nommap_repack "$TMP/q4.gguf" --no-mmap --repack
echo "PASS: $test_name"
