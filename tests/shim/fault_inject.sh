#!/bin/sh
# Faults injected at the runtime's own calls (common/fail_point.h): a first
# run under the preload counts every fail point it reaches (MOETIER_FAULT_REPORT);
# then, for each site, its first call fails, and a later one where the site
# is called more than once. Every run: exit 0, tokens identical to a run
# without moetier, exactly one "fault injected" line naming the site and call,
# and a failed copy into the DRAM cache or remap says so in one warn line.
# Counts what it injected. Needs a build configured with
# --enable-fault-injection (docs/fault-injection.md); skipped otherwise.
. "$(dirname "$0")/../lib.sh"
grep -q '^#define MOETIER_FAULT_INJECTION 1' "$TOP_BUILDDIR/config.h" 2> /dev/null ||
    skip "not configured with --enable-fault-injection (docs/fault-injection.md)"
tiering_setup "${FAULT_FEED:-60}" 4
export MOETIER_LOG=warn

# under NAME: one run under the preload with the current MOETIER_FAULT_*
under() {
    LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet $run_args > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
    [ $rc -eq 0 ] || { cat "$TMP/$1.err"; fail "$1: exit $rc under the preload"; }
    [ "$want" = "$(field "$TMP/$1.out" tokens)" ] || { cat "$TMP/$1.err"; fail "$1: tokens differ"; }
}

# counting runs: the second one loads the profile the first saved
MOETIER_FAULT_REPORT="$TMP/count0" under count0
MOETIER_FAULT_REPORT="$TMP/count" under count
grep -q "fault injected" "$TMP/count.err" && fail "a counting run injected a fault"
[ -s "$TMP/count" ] || fail "no fail point was reached (report empty)"
# site -> calls, over both runs (some sites run only on a cold or a warm start)
cat "$TMP/count0" "$TMP/count" | awk '{ if ($2 > c[$1]) c[$1] = $2 } END { for (s in c) print s, c[s] }' |
    sort > "$TMP/sites"
note "fail points reached: $(awk '{ printf "%s(%s) ", $1, $2 }' "$TMP/sites")"

injected=0 tried=0 unreached=
while read -r site calls; do
    nths=1
    [ "$calls" -gt 1 ] && nths="1 $(((calls + 1) / 2))"
    for n in $nths; do
        tried=$((tried + 1))
        rm -rf "$TMP/stats"
        MOETIER_FAULT_INJECT="$site:$n" MOETIER_FAULT_REPORT="$TMP/r.$site.$n" under "$site.$n"
        lines=$(grep -c "fault injected: $site call $n\$" "$TMP/$site.$n.err")
        if [ "$lines" -eq 0 ]; then
            unreached="$unreached $site:$n" # call counts vary with timing (sampling, migration rounds)
            continue
        fi
        [ "$lines" -eq 1 ] || fail "$site:$n: $lines injection lines: $(cat "$TMP/$site.$n.err")"
        [ "$(grep -c "fault injected" "$TMP/$site.$n.err")" -eq 1 ] || fail "$site:$n: more than one fault injected"
        injected=$((injected + 1))
        # a failed copy into the DRAM cache or remap: one warn line naming it (once per kind, never silent)
        warns=$(grep -c "warn: tiering: .* failed: " "$TMP/$site.$n.err")
        case $site in
        cache.memfd_create | cache.ftruncate | cache.pwrite | migrate.mmap_fixed)
            [ "$warns" -eq 1 ] || fail "$site:$n: $warns warn lines for the failed move, want 1: $(cat "$TMP/$site.$n.err")" ;;
        *) [ "$warns" -le 1 ] || fail "$site:$n: $warns warn lines for one failed move" ;;
        esac
        other=$(grep '^moetier\[' "$TMP/$site.$n.err" | grep -v "fault injected" | sed 's/^moetier\[[0-9]*\] //' |
            head -n 2 | tr '\n' '|')
        note "$site call $n failed: exit 0, tokens identical; runtime said: ${other:-(nothing at warn: counted in the exit summary)}"
    done
done < "$TMP/sites"
[ "$injected" -gt 0 ] || fail "no fault was injected"
note "$injected faults injected over $(wc -l < "$TMP/sites") sites ($tried runs${unreached:+; not reached this time:$unreached})"
echo "PASS: $test_name"
