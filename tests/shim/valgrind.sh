#!/bin/sh
# The preload under valgrind memcheck, in the real llama.cpp (the driver) on a
# small model, on the mmap path with tiering (a DRAM budget below the experts)
# and on the --no-mmap path (the shim's tracked weight allocations): memcheck
# must report no error (definite leaks included). Tokens must match a plain run.
# Not in `make check` (minutes under valgrind): `make check-valgrind`
# (docs/sanitizers.md). tests/shim/valgrind.supp holds llama.cpp's own reports.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
command -v valgrind > /dev/null || skip "valgrind not installed"

"$MOETIER" mkmoe "$TMP/m.gguf" --embd 128 --layers 4 --experts 8 --used 2 --seed 7 -q || fail "mkmoe"
eb=$(expert_bytes "$TMP/m.gguf") || exit 1

run_one() { # run_one NAME [driver options]
    name=$1
    shift
    drive "$TMP/$name.plain" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 32 -n 4 -t 2 "$@"
    # LD_PRELOAD reaches the driver through valgrind, after its own preloads;
    # --error-exitcode tells memcheck's errors from the driver's own failures
    MOETIER_DRAM=$((eb / 2)) MOETIER_PROFILE="$TMP/$name.prof" MOETIER_STATS_DIR="$TMP/stats" MOETIER_LOG=info \
        LD_PRELOAD="$MOETIER_LIB" valgrind --tool=memcheck --error-exitcode=99 --num-callers=30 \
        --leak-check=full --errors-for-leak-kinds=definite \
        --suppressions="$TOP_SRCDIR/tests/shim/valgrind.supp" --log-file="$TMP/$name.vg" \
        "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 32 -n 4 -t 2 "$@" \
        > "$TMP/$name.vgrun.out" 2> "$TMP/$name.vgrun.err"
    rc=$?
    errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$TMP/$name.vg" | tail -n 1)
    note "$name: $(grep "ERROR SUMMARY" "$TMP/$name.vg" | tail -n 1 | sed 's/^==[0-9]*== *//')"
    note "$name: $(grep -o "sampler: [a-z]*\|tiering: .*" "$TMP/$name.vgrun.err" | tr '\n' ' ')"
    if [ $rc -ne 0 ] || [ "${errs:-1}" != 0 ]; then
        cat "$TMP/$name.vg" "$TMP/$name.vgrun.err"
        fail "$name: exit $rc under valgrind, ${errs:-?} memcheck errors"
    fi
    a=$(field "$TMP/$name.plain.out" tokens)
    b=$(field "$TMP/$name.vgrun.out" tokens)
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "$name: tokens differ under valgrind: [$a] vs [$b]"
    grep -q "^moetier\[" "$TMP/$name.vgrun.err" || fail "$name: the preload did not start under valgrind"
}

run_one mmap
run_one nommap --no-mmap
echo "PASS: $test_name"
