#!/bin/sh
# MOETIER_CUDA_PIN with the real CUDA runtime loaded in the process (the
# toolkit's libcudart.so): moetier finds it and pins promoted experts with
# cudaHostRegister. This machine has no GPU, so the runtime refuses: the test
# checks the degrade path (one warning, the cache works unpinned, tokens
# identical). Without CUDA in the process, auto pins nothing and says nothing;
# =on says it cannot. The pinned path itself needs a GPU (see docs/tiering.md).
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
cudart=
for d in ${CUDA_HOME:-} /usr/local/cuda; do
    [ -n "$d" ] && [ -e "$d/lib64/libcudart.so" ] && cudart=$d/lib64/libcudart.so && break
done
[ -n "$cudart" ] || skip "no CUDA runtime (libcudart.so) under /usr/local/cuda or \$CUDA_HOME"
olmoe_model "$TMP/m.gguf"
# 800 fed tokens: the engine starts (and sets pinning up) at its first round after
# the first decode, 100 ms on; 200 tokens could end before it on a fast machine
drive "$TMP/plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 -n 8
want=$(field "$TMP/plain.out" tokens)
export MOETIER_DRAM=20M MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100%

LD_PRELOAD="$MOETIER_LIB $cudart" drive "$TMP/cuda" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 -n 8
[ "$want" = "$(field "$TMP/cuda.out" tokens)" ] || fail "tokens differ with the CUDA runtime loaded"
grep -q "promoted experts are pinned with cudaHostRegister" "$TMP/cuda.err" || fail "pinning not set up: $(cat "$TMP/cuda.err")"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/cuda.err" || fail "nothing promoted"
if grep -q "cudaHostRegister failed" "$TMP/cuda.err"; then
    [ "$(grep -c "cudaHostRegister failed" "$TMP/cuda.err")" -eq 1 ] || fail "more than one warning"
    note "no usable GPU: $(grep "cudaHostRegister failed" "$TMP/cuda.err" | sed 's/^moetier\[[0-9]*\] //')"
else
    grep -q "tiering: [1-9][0-9.]* [KMG]iB of the cache pinned" "$TMP/cuda.err" || fail "a GPU, yet nothing pinned"
    note "pinned: $(grep "pinned for CUDA" "$TMP/cuda.err")"
fi

LD_PRELOAD="$MOETIER_LIB" drive "$TMP/nocuda" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 -n 8
grep -q "CUDA_PIN" "$TMP/nocuda.err" && fail "auto without CUDA should say nothing: $(grep CUDA_PIN "$TMP/nocuda.err")"
MOETIER_CUDA_PIN=on LD_PRELOAD="$MOETIER_LIB" drive "$TMP/on" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 800 -n 8
grep -q "no CUDA runtime loaded" "$TMP/on.err" || fail "=on without CUDA: no warning"
[ "$want" = "$(field "$TMP/on.out" tokens)" ] || fail "tokens differ"
echo "PASS: $test_name"
