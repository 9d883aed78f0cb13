#!/bin/sh
# Coexistence with an application's own SIGSEGV handler (node/V8 install one):
# with the fault sampler armed, the driver installs its own handler mid-run,
# keeps decoding (probe faults must stay moetier's), then faults once on purpose
# on a page of its own: its handler must see exactly that one fault, recover,
# and the tokens must equal a run without the preload. The handler asks for a
# signal in its sa_mask, its alternate stack (SA_ONSTACK) and SA_RESETHAND:
# chained through moetier's it must run as the kernel runs it without.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"
args="-m $TMP/m.gguf --no-mmap --feed $TEXT --feed-max 50 -n 250 --own-segv-handler"
drive "$TMP/plain" $args
MOETIER_SAMPLER=fault MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info MOETIER_PROFILE=off \
    MOETIER_STATS_DIR="$TMP/stats" LD_PRELOAD="$MOETIER_LIB" drive "$TMP/shim" $args
[ "$(field "$TMP/plain.out" own_segv)" = "caught 1" ] || fail "without the preload: $(cat "$TMP/plain.out")"
[ "$(field "$TMP/shim.out" own_segv)" = "caught 1" ] ||
    fail "under the preload the application's handler saw: $(field "$TMP/shim.out" own_segv) (expected caught 1)"
asked="sa_mask yes, SIGSEGV blocked yes, alternate stack yes, reset yes"
[ "$(field "$TMP/plain.out" own_segv_as_asked)" = "$asked" ] ||
    fail "without the preload: $(field "$TMP/plain.out" own_segv_as_asked)"
[ "$(field "$TMP/shim.out" own_segv_as_asked)" = "$asked" ] ||
    fail "under the preload the application's handler ran with: $(field "$TMP/shim.out" own_segv_as_asked) (expected $asked)"
[ "$(field "$TMP/plain.out" tokens)" = "$(field "$TMP/shim.out" tokens)" ] || fail "tokens differ under the preload"
grep -q "sampler: fault" "$TMP/shim.err" || fail "the fault sampler was not used: $(cat "$TMP/shim.err")"
# sampling must go on after the application's sigaction: the exit line counts
# the samples taken once its handler was in place (250 generated tokens, a
# sample every 1 ms at a 100% budget: none means its faults stopped reaching
# the sampler)
samples=$(sed -n 's/.*info: sampled \([0-9]*\) of .*/\1/p' "$TMP/shim.err")
after=$(sed -n 's/.*info: sampled \([0-9]*\) since the binary installed its own SIGSEGV handler.*/\1/p' "$TMP/shim.err")
[ "${after:-0}" -gt 0 ] ||
    fail "${after:-no} samples after the application's sigaction ($samples in all): sampling stopped? $(cat "$TMP/shim.err")"
note "application handler caught exactly its own fault; $samples samples taken, $after after its handler was installed"
echo "PASS: $test_name"
