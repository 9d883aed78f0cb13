#!/bin/sh
# `moetier run` checks every value with the runtime's own validation before
# running anything: a bad one is exit 2 with one line naming the flag and the
# variable, and the command does not run.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

: > "$TMP/libfake.so"
export MOETIER_LIB=$TMP/libfake.so
bad() {
    flag=$1 value=$2 var=$3
    expect_exit 2 "moetier run: $flag: $var=\"$value\"" "$MOETIER" run "$flag" "$value" -- touch "$TMP/ran"
    [ ! -e "$TMP/ran" ] || fail "$flag $value: the command ran"
}
bad --dram 12Q MOETIER_DRAM
bad --dram 150% MOETIER_DRAM
bad --slow numa:x MOETIER_SLOW
bad --slow pmem:relative MOETIER_SLOW
bad --slow tape MOETIER_SLOW
bad --policy nope MOETIER_POLICY
bad --sampler always MOETIER_SAMPLER
bad --sample-ms 0 MOETIER_SAMPLE_MS
bad --migrate-mbps -1 MOETIER_MIGRATE_MBPS
bad --alloc-min 1K MOETIER_ALLOC_MIN
bad --hugepages maybe MOETIER_HUGEPAGES
bad --cuda-pin 2 MOETIER_CUDA_PIN
bad --per-layer sometimes MOETIER_PER_LAYER
bad --log loud MOETIER_LOG
bad --prefetch-gate 0 MOETIER_PREFETCH_GATE
bad --prefetch-gate 1.5 MOETIER_PREFETCH_GATE
bad --prefetch-gate 0,5 MOETIER_PREFETCH_GATE
bad --match "" MOETIER_MATCH
expect_exit 2 'moetier run: --match: MOETIER_MATCH="\[model\*.gguf": an unclosed' "$MOETIER" run --match "[model*.gguf" -- true
bad --match /models/m.gguf MOETIER_MATCH
expect_exit 2 'moetier run: --only-comm: MOETIER_ONLY_COMM="llama\\": ends in a lone' "$MOETIER" run --only-comm 'llama\' -- true
expect_exit 2 "moetier run: --strict: MOETIER_STRICT=\"sometimes\"" "$MOETIER" run --strict=sometimes -- true
expect_exit 2 "unknown option '--frob'" "$MOETIER" run --frob -- true
expect_exit 2 "--dram needs a value" "$MOETIER" run --dram
echo "PASS: $test_name"
