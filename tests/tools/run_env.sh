#!/bin/sh
# `moetier run` maps every flag onto its MOETIER_* variable, prepends the
# library to LD_PRELOAD (once), makes relative paths absolute and execs the
# command, whose exit status it keeps; a missing library is exit 1, a missing
# command 127.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

# an empty file stands in for the library (ld.so complains on stderr and goes on)
unset MOETIER_STATS_DIR
lib=$TMP/libfake.so
: > "$lib"
export MOETIER_LIB=$lib
cd "$TMP" || fail "cd"
"$MOETIER" run --dram 2G --slow numa:1 --policy lfu --profile p.prof --sampler pagemap --sample-ms 5 \
    --migrate-mbps 500 --alloc-min 8M --hugepages off --cuda-pin on --stats-dir sd --log debug \
    --log-file l.log --match '*.bin' --only-comm 'llama*' --prefetch-gate 0.25 --per-layer on --strict -- env > "$TMP/env" 2> /dev/null ||
    fail "run -- env exited $?"
want() {
    grep -qxF "$1" "$TMP/env" || fail "child environment lacks $1"
}
want "MOETIER_DRAM=2G"
want "MOETIER_SLOW=numa:1"
want "MOETIER_POLICY=lfu"
want "MOETIER_PROFILE=$TMP/p.prof"
want "MOETIER_SAMPLER=pagemap"
want "MOETIER_SAMPLE_MS=5"
want "MOETIER_MIGRATE_MBPS=500"
want "MOETIER_ALLOC_MIN=8M"
want "MOETIER_HUGEPAGES=off"
want "MOETIER_CUDA_PIN=on"
want "MOETIER_STATS_DIR=$TMP/sd"
want "MOETIER_LOG=debug"
want "MOETIER_LOG_FILE=$TMP/l.log"
want "MOETIER_MATCH=*.bin"
want "MOETIER_ONLY_COMM=llama*"
want "MOETIER_STRICT=1"
want "MOETIER_PREFETCH_GATE=0.25"
want "MOETIER_PER_LAYER=on"
want "LD_PRELOAD=$lib"

# every flag of `moetier run --help` (one per variable of the configuration
# table, new ones included) sets its own variable: each is given its default
# ("--flag=VALUE" form) and must reach the child as NAME=VALUE
"$MOETIER" run --help | awk '
    /^  --/ { flag = $1 }
    /^ +\(MOETIER_[A-Z_]*; default / {
        name = $0; sub(/^ *\(/, "", name); sub(/;.*/, "", name)
        dflt = $0; sub(/.*; default /, "", dflt); sub(/\)$/, "", dflt)
        if (flag != "" && dflt != "empty") print flag, name, dflt
        flag = ""
    }' > "$TMP/flags"
[ "$(wc -l < "$TMP/flags")" -ge 10 ] || fail "run --help lists too few flags: $(cat "$TMP/flags")"
while read -r flag name dflt; do
    "$MOETIER" run "$flag=$dflt" env > "$TMP/e" 2> /dev/null || fail "run $flag=$dflt exited $?"
    grep -qxF "$name=$dflt" "$TMP/e" || fail "run $flag=$dflt does not set $name=$dflt"
    [ "$(grep -c '^MOETIER_[A-Z_]*=' "$TMP/e")" -eq 2 ] || fail "run $flag set more than $name (and MOETIER_LIB)"
done < "$TMP/flags"

# unset flags are not set; the command's own options pass untouched
"$MOETIER" run --dram 1G sh -c 'echo "$MOETIER_SLOW|$MOETIER_DRAM|$1"' sh --policy > "$TMP/o" 2> /dev/null
[ "$(cat "$TMP/o")" = "|1G|--policy" ] || fail "options after CMD were taken: $(cat "$TMP/o")"
"$MOETIER" run --strict=off env 2> /dev/null | grep -qx "MOETIER_STRICT=off" || fail "--strict=off"

# LD_PRELOAD: prepended, kept once
LD_PRELOAD=/nonexistent/other.so "$MOETIER" run env 2> /dev/null | grep -qx "LD_PRELOAD=$lib:/nonexistent/other.so" ||
    fail "LD_PRELOAD not prepended"
LD_PRELOAD="/nonexistent/a.so $lib" "$MOETIER" run env 2> /dev/null | grep -qx "LD_PRELOAD=/nonexistent/a.so $lib" ||
    fail "the library was added twice to LD_PRELOAD"

# exit status: the command's; exec failures like env(1)
"$MOETIER" run -- sh -c 'exit 7' 2> /dev/null
[ $? -eq 7 ] || fail "the command's exit status was not kept"
expect_exit 127 "no-such-command-here: No such file or directory" "$MOETIER" run no-such-command-here
MOETIER_LIB=$TMP/missing.so expect_exit 1 "MOETIER_LIB=$TMP/missing.so: no such library file" "$MOETIER" run env
MOETIER_LIB=libfake.so "$MOETIER" run env 2> /dev/null | grep -qx "LD_PRELOAD=$lib" || fail "a relative MOETIER_LIB is not made absolute"
expect_exit 2 "which command" "$MOETIER" run --dram 1G
echo "PASS: $test_name"
