#!/bin/sh
# MOETIER_HUGEPAGES=on: the DRAM cache takes 2 MiB pages from the hugetlb pool
# (vm.nr_hugepages), the shim places the model's mapping so that addresses and
# file offsets agree modulo 2 MiB, experts are promoted in whole huge pages,
# the pool really lends them while the binary runs, and the tokens are
# identical to a run without moetier. Needs root to size the pool (skips
# otherwise); the pool is put back as it was.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
pool=/proc/sys/vm/nr_hugepages
[ -w $pool ] || skip "cannot size the huge page pool ($pool not writable: not root)"
before=$(cat $pool)
trap 'echo "$before" > $pool; rm -rf "$TMP"' EXIT
[ "$before" -ge 48 ] || echo 48 > $pool
[ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)" -ge 40 ] ||
    skip "the kernel gave only $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages) free huge pages"

# expert slices of 4.25 MiB: whole 2 MiB pages inside each
"$MOETIER" mkmoe "$TMP/big.gguf" --embd 1024 --ff 4096 --layers 2 --experts 8 --used 2 --seed 3 -q || fail "mkmoe"
drive "$TMP/plain" -m "$TMP/big.gguf" --feed "$TEXT" --feed-max 200 -n 8
MOETIER_HUGEPAGES=on MOETIER_DRAM=64M MOETIER_PROFILE=off MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% MOETIER_LOG=info \
    LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/big.gguf" --feed "$TEXT" --feed-max 200 -n 8 \
    > "$TMP/huge.out" 2> "$TMP/huge.err" &
pid=$!
lent=0
free0=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
while kill -0 $pid 2> /dev/null; do
    f=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
    [ $((free0 - f)) -gt $lent ] && lent=$((free0 - f))
    sleep 0.05
done
wait $pid || { cat "$TMP/huge.err"; fail "driver failed"; }
[ "$(field "$TMP/plain.out" tokens)" = "$(field "$TMP/huge.out" tokens)" ] || fail "tokens differ with huge pages"
grep -q "(huge pages)" "$TMP/huge.err" || fail "huge pages not in use: $(cat "$TMP/huge.err")"
grep -q "tiering: [1-9][0-9]* promotions" "$TMP/huge.err" || fail "nothing promoted: $(cat "$TMP/huge.err")"
[ $lent -gt 0 ] || fail "the huge page pool never lent a page"
note "up to $lent huge pages in use; $(grep 'tiering: [0-9]* promotions' "$TMP/huge.err" | sed 's/^moetier\[[0-9]*\] info: //')"
echo "PASS: $test_name"
