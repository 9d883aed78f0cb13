#!/bin/sh
# moetier replay on the three ESFT traces reproduces data/traces/README.md's
# reference figures (LRU, LFU, Belady at C = 10%, 25%, 50%) within +-0.005.
# The expected figures are read from the README's table itself.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
readme=$TOP_SRCDIR/data/traces/README.md
cd "$TOP_SRCDIR/data/traces" || fail "no data/traces"
for task in intent law summary; do
    f=deepseekv2lite_esft_$task.trace
    [ -r "$f" ] || fail "$f missing"
    # | esft TASK | hot | C=10%: lru / lfu / belady | C=25%: ... | C=50%: ... |
    want=$(sed -n "s/^| esft $task | [^|]* | \(.*\) |\$/\1/p" "$readme" | tr -d '|/' )
    [ "$(echo $want | wc -w)" -eq 9 ] || fail "no reference row for esft $task in $readme"
    "$MOETIER" replay "$f" --policy lru,lfu,belady --cache 10%,25%,50% > "$TMP/$task.out" ||
        fail "moetier replay $f exited $?"
    # got: the 9 figures in the same order (policy within cache size)
    # (the hit-rate table comes first; the rows of the bytes table below it are skipped)
    got=$(awk '($1 == "lru" || $1 == "lfu" || $1 == "belady") && !(($1, 2) in v) { for (i = 2; i <= 4; i++) v[$1, i] = $i }
               END { for (i = 2; i <= 4; i++) printf "%s %s %s ", v["lru", i], v["lfu", i], v["belady", i] }' \
               "$TMP/$task.out")
    bad=$(echo "$want" "$got" | awk '{ n = NF / 2; split("lru lfu belady", pol, " "); split("10% 25% 50%", c, " ");
        for (i = 1; i <= n; i++) { d = $(i + n) - $i; if (d < 0) d = -d;
            if (d > 0.005 || $(i + n) == "") printf "%s@%s want %s got %s; ", pol[(i - 1) % 3 + 1], c[int((i - 1) / 3) + 1], $i, $(i + n) } }')
    [ -z "$bad" ] || { cat "$TMP/$task.out"; fail "esft $task: $bad"; }
    note "esft $task: $got (reference: $(echo $want))"
done
echo "PASS: $test_name"
