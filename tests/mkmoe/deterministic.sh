#!/bin/sh
# mkmoe output depends only on its options and seed: identical bytes for the
# same seed, different weights for another seed, every --type writes.
. "$(dirname "$0")/../lib.sh"

for type in f16 q8_0 q4_0; do
    "$MOETIER" mkmoe "$TMP/a.gguf" --type $type --embd 64 -q || fail "mkmoe --type $type"
    "$MOETIER" mkmoe "$TMP/b.gguf" --type $type --embd 64 -q || fail "mkmoe --type $type (again)"
    cmp -s "$TMP/a.gguf" "$TMP/b.gguf" || fail "--type $type: two runs with the same seed differ"
    "$MOETIER" mkmoe "$TMP/c.gguf" --type $type --embd 64 --seed 2 -q || fail "mkmoe --seed 2"
    [ "$(wc -c < "$TMP/a.gguf")" -eq "$(wc -c < "$TMP/c.gguf")" ] || fail "--seed changed the file size"
    cmp -s "$TMP/a.gguf" "$TMP/c.gguf" && fail "--type $type: seeds 1 and 2 gave identical files"
    head -c 4 "$TMP/a.gguf" | grep -q GGUF || fail "no GGUF magic"
done
# shaped models are deterministic too (the calibration is seeded)
for i in 1 2; do
    "$MOETIER" mkmoe "$TMP/s$i.gguf" --routing "$TOP_SRCDIR/data/traces/mixtral_counts_c4.counts" --embd 64 -q ||
        fail "mkmoe --routing"
done
cmp -s "$TMP/s1.gguf" "$TMP/s2.gguf" || fail "shaped models with the same seed differ"
echo "PASS: $test_name"
