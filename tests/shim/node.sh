#!/bin/sh
# node with node-llama-cpp, a second real llama.cpp client (its addon is loaded
# RTLD_LOCAL, so the shim must find llama.cpp's functions outside the global
# scope): greedy text identical with and without the preload, on the mmap and
# --no-mmap paths, the preload active (model seen, profile written), exit clean.
# Each run loads, generates, unloads and loads again in one process: the second
# load may get the first one's freed weight memory, which the sampler must no
# longer treat as the model's.
. "$(dirname "$0")/../lib.sh"
need_shim
modules=$TOP_SRCDIR/deps/npm/node_modules
[ -f "$modules/node-llama-cpp/dist/index.js" ] || skip "node-llama-cpp not installed (run scripts/setup-deps)"
command -v node > /dev/null || skip "node not installed"
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"
gen="$TOP_SRCDIR/tests/node/generate.mjs"
for flag in "" --no-mmap; do
    node "$gen" "$modules" "$TMP/m.gguf" $flag --twice > "$TMP/plain.out" 2> "$TMP/plain.err" ||
        { cat "$TMP/plain.err"; fail "node without the preload failed"; }
    MOETIER_LOG=info MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_PROFILE="$TMP/n.prof" MOETIER_STATS_DIR="$TMP/stats" \
        LD_PRELOAD="$MOETIER_LIB" node "$gen" "$modules" "$TMP/m.gguf" $flag --twice > "$TMP/shim.out" 2> "$TMP/shim.err" ||
        { cat "$TMP/shim.err"; fail "node under the preload failed"; }
    cmp -s "$TMP/plain.out" "$TMP/shim.out" ||
        fail "node${flag:+ $flag}: text differs: $(cat "$TMP/plain.out") vs $(cat "$TMP/shim.out")"
    [ "$(grep -c '^text: ' "$TMP/shim.out")" -eq 2 ] || fail "node${flag:+ $flag}: expected two generations"
    [ "$(sed -n 1p "$TMP/shim.out")" = "$(sed -n 2p "$TMP/shim.out")" ] || fail "node${flag:+ $flag}: reload changed the text"
    grep -q "info: model" "$TMP/shim.err" || fail "node${flag:+ $flag}: the preload did not see the model"
    [ "$(grep -cE 'info: sampler: (routing|pagemap|fault),' "$TMP/shim.err")" -ge 2 ] ||
        fail "node${flag:+ $flag}: the sampler was not rebuilt for the second load: $(cat "$TMP/shim.err")"
    grep -q "info: sampled [1-9]" "$TMP/shim.err" || fail "node${flag:+ $flag}: nothing sampled: $(cat "$TMP/shim.err")"
    [ -s "$TMP/n.prof" ] || fail "node${flag:+ $flag}: no profile"
    rm -f "$TMP/n.prof"
    note "node${flag:+ $flag}: $(cat "$TMP/shim.out")"
done
echo "PASS: $test_name"
