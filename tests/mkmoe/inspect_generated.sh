#!/bin/sh
# `moetier inspect --json` agrees byte for byte with an independent GGUF
# reader (node-llama-cpp's) on models mkmoe generates: each tensor type, a
# shaped model with another shape, and a --size scaled one.
. "$(dirname "$0")/../lib.sh"
"$MOETIER" mkmoe "$TMP/f16.gguf" --type f16 --embd 64 -q || fail "mkmoe f16"
"$MOETIER" mkmoe "$TMP/q8.gguf" --type q8_0 -q || fail "mkmoe q8_0"
"$MOETIER" mkmoe "$TMP/q4.gguf" --type q4_0 --layers 3 --experts 16 --used 4 -q || fail "mkmoe q4_0"
"$MOETIER" mkmoe "$TMP/shaped.gguf" --routing "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --embd 32 -q ||
    fail "mkmoe --routing"
"$MOETIER" mkmoe "$TMP/sized.gguf" --size 24M --layers 2 -q || fail "mkmoe --size"
sh "$TOP_SRCDIR/tests/gguf/independent_reader.sh" "$TMP/f16.gguf" "$TMP/q8.gguf" "$TMP/q4.gguf" \
    "$TMP/shaped.gguf" "$TMP/sized.gguf"
rc=$?
[ $rc -eq 0 ] && echo "PASS: $test_name"
exit $rc
