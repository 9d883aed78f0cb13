#!/bin/sh
# run.sh: fuzzes each named target for SECONDS on a copy of its seed corpus
# and reports the executions per target (tests/fuzz.mk: make fuzz-run).
#
#   run.sh SRCDIR BUILDDIR SECONDS TARGET...
#
# SRCDIR holds fuzz_<t>.c's corpus-<t>/ and <t>.dict; BUILDDIR the binaries
# fuzz_<t>, and gets run-<t>/ (the growing corpus), <t>.log (libFuzzer's
# output), crash-* (findings) and report.txt. Every target runs even when
# one fails, so one report covers them all; the exit status is 1 when any
# found something.
set -u
src=$1 build=$2 secs=$3
shift 3
report=$build/report.txt
: >"$report"
status=0
for t in "$@"; do
    bin=$build/fuzz_$t
    mkdir -p "$build/run-$t"
    cp "$src/corpus-$t"/* "$build/run-$t/"
    dict=
    [ -f "$src/$t.dict" ] && dict=-dict=$src/$t.dict
    start=$(date +%s)
    # stdin closed: an input that reads it sees EOF, not the terminal
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 $dict \
        -artifact_prefix="$build/crash-$t-" -print_final_stats=1 "$build/run-$t" \
        </dev/null >"$build/$t.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log" | tail -n 1)
    execs=${execs:-0}
    units=$(ls "$build/run-$t" | wc -l)
    rate=$(( took > 0 ? execs / took : execs ))
    if [ $rc -eq 0 ]; then
        line="fuzz_$t: $execs executions in ${took} s ($rate/s), corpus $units inputs, clean"
    else
        line="fuzz_$t: FAILED (exit $rc) after $execs executions in ${took} s: see $build/$t.log and $build/crash-$t-*"
        tail -n 40 "$build/$t.log" >&2
        status=1
    fi
    echo "$line" | tee -a "$report"
done
echo "fuzz-run: report in $report"
exit $status
