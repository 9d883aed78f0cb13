#!/bin/sh
# The runtime's default policy (replay --policy auto) never reads more from
# the slow tier than the better of lru and lfu, within 2%, on every .trace the
# project has (data/traces and data/traces/driver), at C = 10%, 25%, 50%.
# Exact counts from replay: nothing here depends on timing.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
n=0
for f in "$TOP_SRCDIR"/data/traces/*.trace "$TOP_SRCDIR"/data/traces/driver/*.trace; do
    [ -r "$f" ] || continue
    n=$((n + 1))
    "$MOETIER" replay "$f" --policy lru,lfu,auto --cache 10%,25%,50% --json > "$TMP/r.json" ||
        fail "moetier replay $f exited $?"
    # one result object per line: policy, cache_share, slow_reads
    bad=$(sed 's/},{/}\n{/g' "$TMP/r.json" | awk '
        match($0, /"policy":"[a-z]*"/) { p = substr($0, RSTART + 10, RLENGTH - 11)
            match($0, /"cache_share":[0-9.e-]*/); c = substr($0, RSTART + 14, RLENGTH - 14)
            match($0, /"slow_reads":[0-9]*/); v[p, c] = substr($0, RSTART + 13, RLENGTH - 13) + 0; cs[c] = 1 }
        END { for (c in cs) { b = v["lru", c] < v["lfu", c] ? v["lru", c] : v["lfu", c]
                if (v["auto", c] == "" || b == 0 || v["auto", c] > 1.02 * b)
                    printf "C=%s: auto %s > 1.02 x min(lru %s, lfu %s); ", c, v["auto", c], v["lru", c], v["lfu", c]
                else printf "%s:%.3f ", c, v["auto", c] / b } }')
    case $bad in *"auto"*) fail "$(basename "$f"): $bad" ;; esac
    note "$(basename "$f"): auto / min(lru, lfu) reads: $bad"
done
[ $n -ge 3 ] || fail "only $n .trace files found"
echo "PASS: $test_name"
