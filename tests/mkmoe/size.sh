#!/bin/sh
# --size scales the widths so the file is about the requested size (within
# 25%, and never above it by more than the header); --routing takes the shape.
. "$(dirname "$0")/../lib.sh"

"$MOETIER" mkmoe "$TMP/m.gguf" --size 48M --layers 2 --experts 4 -q || fail "mkmoe --size 48M"
bytes=$(wc -c < "$TMP/m.gguf")
want=$((48 * 1024 * 1024))
[ "$bytes" -le $((want + want / 20)) ] && [ "$bytes" -ge $((want * 3 / 4)) ] ||
    fail "--size 48M wrote $bytes bytes"
note "--size 48M -> $bytes bytes"

# the default model is small (tens of MiB at most)
"$MOETIER" mkmoe "$TMP/d.gguf" -q || fail "mkmoe with defaults"
[ "$(wc -c < "$TMP/d.gguf")" -lt $((40 * 1024 * 1024)) ] || fail "default model is over 40 MiB"

# shape from a routing file: layers, experts, top-k from the file unless given
"$MOETIER" mkmoe "$TMP/r.gguf" --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --embd 32 \
    2> "$TMP/log" || fail "mkmoe --routing"
grep -q "3 layers x 64 experts (top-8)" "$TMP/log" || fail "--routing did not take the file's shape: $(cat "$TMP/log")"
grep -q "should take 0.186 of accesses" "$TMP/log" || fail "--routing target share: $(cat "$TMP/log")"
"$MOETIER" mkmoe "$TMP/r.gguf" --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --embd 32 \
    --layers 2 --used 4 2> "$TMP/log" || fail "mkmoe --routing with --layers"
grep -q "2 layers x 64 experts (top-4)" "$TMP/log" || fail "options did not win over the file: $(cat "$TMP/log")"
"$MOETIER" mkmoe "$TMP/r.gguf" --like "$TOP_SRCDIR/data/traces/deepseekv2lite_esft_law.trace" --embd 32 \
    2> "$TMP/log" || fail "mkmoe --like"
grep -q "4 layers x 8 experts (top-2)" "$TMP/log" || fail "--like changed the model's shape: $(cat "$TMP/log")"
echo "PASS: $test_name"
