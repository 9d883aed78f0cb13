#!/bin/sh
# moetier sim against hand-worked traces, one per tier model (docs/sim.md):
# block, byte-addressable, Memory Mode (conflicting and not), the CPU ceiling,
# the GPU's serial and overlapped dense time, serial streams, Colloid's
# balance, the bandwidth bound and belady.
# Every expected figure is worked out in the comments from the presets'
# numbers (tools/hw_presets.c: DRAM ddr4-2666x6 102.4 GB/s read, 76.8 write;
# optane-6dimm 39.4 read, 0.305 us; rtx3060-12g 306 GB/s, 20 us a layer).
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
cd "$TMP" || fail "no $TMP"

# field ROW KEY < json: the number (or word) after "KEY": in row ROW ("top": the top level)
field() {
    if [ "$1" = top ]; then
        sed 's/"rows":.*//'
    else
        sed 's/{"name":/\n{"name":/g' | grep "^{\"name\":\"$1\""
    fi | sed -n "s/.*\"$2\":\"*\([^,\"}]*\).*/\1/p" | head -1
}
# check NAME GOT WANT: equal within 0.1% (or exactly, for words)
check() {
    case $3 in
    [0-9]*) awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= 1e-3 * (w < 0 ? -w : w) + 1e-9) }' ||
        fail "$1: got '$2', want $3" ;;
    *) [ "$2" = "$3" ] || fail "$1: got '$2', want $3" ;;
    esac
}
sim() { "$MOETIER" sim --json --expert-size 1000000000 "$@" > out.json || fail "moetier sim $* exited $?"; }

# Trace a: one layer of 4 experts, top-1; tokens use experts 0 and 2 in turn.
printf '# model=tiny layers=1 experts=4 topk=1\n0\n2\n0\n2\n0\n2\n0\n2\n' > a.trace
# Trace b: the same with experts 0 and 1.
printf '# model=tiny layers=1 experts=4 topk=1\n0\n1\n0\n1\n0\n1\n0\n1\n' > b.trace

# --- byte-addressable tier (PMem App Direct), no CPU ceiling, no GPU, 1 GB experts.
# --cache-frac 0.5: 2 slots. LRU on a: 2 cold misses, 6 hits: hit .75; per token
# .75 hits (DRAM read .75 GB), .25 promoted: read in place .25 GB + the copy's
# read .25 GB = slow .5 GB, DRAM write .25 GB.
# t_dram = .75/102.4 + .25/76.8 = .0105794 s; t_slow = .5/39.4 + .25 x .305e-6
# = .0126905 s; the token waits on the slow tier: 1/.0126905 = 78.80 tok/s.
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm --cpu-gweights 0 --policy lru
check "byte lru hit" "$(field top hit_rate < out.json)" 0.75
check "byte lru dram_read" "$(field top dram_read < out.json)" 750000000
check "byte lru dram_write" "$(field top dram_write < out.json)" 250000000
check "byte lru slow_read" "$(field top slow_read < out.json)" 500000000
check "byte lru promoted" "$(field top bytes_promoted < out.json)" 250000000
check "byte lru tok/s" "$(field top tokens_per_s < out.json)" 78.80
check "byte lru bound" "$(field lru bound < out.json)" slow
# all-slow: every expert in place, 1 GB: t = 1/39.4 + .305e-6 = .0253810 s: 39.400 tok/s
check "all-slow tok/s" "$(field all-slow tokens_per_s < out.json)" 39.3995
check "all-slow dram" "$(field all-slow dram_read < out.json)" 0
# Memory Mode, contiguous: experts 0 and 2 lie 2 GB apart, the cache is 2 GB:
# both map to the same sets and evict each other: every access misses (hit 0).
# A miss is a DRAM read (the tag check), a slow read and a DRAM fill:
# t_slow = .0253810 (as all-slow), t_dram = 1/102.4 + 1/76.8 = .0227865: 39.40 tok/s.
check "mm conflict hit" "$(field memory-mode hit_rate < out.json)" 0
check "mm conflict dram_read" "$(field memory-mode dram_read < out.json)" 1000000000
check "mm conflict dram_write" "$(field memory-mode dram_write < out.json)" 1000000000
check "mm conflict tok/s" "$(field memory-mode tokens_per_s < out.json)" 39.3995
# the bandwidth bound: DRAM serves 102.4/141.8 = .722144 of the bytes, PMem the
# rest, both done at 1 GB / 141.8 GB/s: 141.8 tok/s
check "bandwidth hit" "$(field bandwidth hit_rate < out.json)" 0.722144
check "bandwidth tok/s" "$(field top bandwidth_tokens_per_s < out.json)" 141.8
# hot-static pins the 2 hottest pairs (0 and 2) from the start: every access
# hits, nothing moves: 1 GB from DRAM, 102.4 tok/s
check "hot-static hit" "$(field hot-static hit_rate < out.json)" 1
check "hot-static tok/s" "$(field hot-static tokens_per_s < out.json)" 102.4

# Memory Mode on b: experts 0 and 1 are adjacent, sets 0-1 GB and 1-2 GB: no
# conflict, 2 cold misses of 8: hit .75; per token .75 GB of hits and .25 GB
# of tag checks read from DRAM, .25 GB from PMem and its .25 GB fill:
# t_dram = 1/102.4 + .25/76.8 = .0130208, t_slow = .25/39.4 + .25 x .305e-6
# = .0063453: DRAM-bound, 76.80 tok/s.
sim --trace b.trace --cache-frac 0.5 --hw optane-6dimm --cpu-gweights 0 --policy lru
check "mm adjacent hit" "$(field memory-mode hit_rate < out.json)" 0.75
check "mm adjacent tok/s" "$(field memory-mode tokens_per_s < out.json)" 76.8
check "mm adjacent bound" "$(field memory-mode bound < out.json)" dram
# scattered pages (--mm-layout random) must differ from a's total conflict
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm --cpu-gweights 0 --mm-layout random
h=$(field memory-mode hit_rate < out.json)
awk -v h="$h" 'BEGIN { exit !(h > 0.1 && h < 0.75) }' || fail "mm random on a: hit $h, want between .1 and .75"

# --streams serial: the tiers take turns: LRU on a (above) takes
# .0105794 + .0126905 = .0232699 s: 42.974 tok/s
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm --cpu-gweights 0 --policy lru --streams serial
check "serial tok/s" "$(field top tokens_per_s < out.json)" 42.974
# in turns, the best use of the bandwidth is DRAM alone: 1/102.4 s, 102.4 tok/s
check "serial bandwidth hit" "$(field bandwidth hit_rate < out.json)" 1
check "serial bandwidth tok/s" "$(field bandwidth tokens_per_s < out.json)" 102.4

# --colloid: 0 and 2 in turn for 40 tokens, 4 slots: LRU hits .95, promotes .05
# a token. t_dram = .95/102.4 + .05/76.8 = .0099284 > t_slow = (.05 x 2)/39.4
# + .05 x .305e-6 = .0025381: 100.72 tok/s. Colloid moves x of the hits to
# in-place reads until (.95 - x)/102.4 + .05/76.8 = (.1 + x)/39.4 +
# (.05 + x) x .305e-6: x = .210270, hit .739730, t = .0078750 s: 126.98 tok/s.
awk 'BEGIN { print "# model=tiny layers=1 experts=4 topk=1"; for (i = 0; i < 20; i++) print "0\n2" }' > d.trace
sim --trace d.trace --cache-frac 1 --hw optane-6dimm --cpu-gweights 0 --policy lru --colloid
check "lru before colloid tok/s" "$(field lru tokens_per_s < out.json)" 100.721
check "colloid hit" "$(field colloid hit_rate < out.json)" 0.73973
check "colloid tok/s" "$(field colloid tokens_per_s < out.json)" 126.985
check "colloid balance" "$(field colloid dram < out.json)" "$(field colloid slow < out.json)"

# --- Belady: 1 layer of 3 experts, 0 1 2 repeated 3 times, 2 slots (frac .67).
# LRU always evicts the next one needed: 9 misses. Belady: 0 1 2(evicts 1, next
# at 4; 0 is next at 3) 0h 1(evicts 0: next 6; 2 next 5) 2h 0(evicts 2: next 8;
# 1 next 7) 1h 2: 6 misses, 3 hits: 1/3.
printf '# model=tri layers=1 experts=3 topk=1\n0\n1\n2\n0\n1\n2\n0\n1\n2\n' > c.trace
sim --trace c.trace --cache-frac 0.67 --hw optane-6dimm --cpu-gweights 0 --policy lru
check "lru cyclic hit" "$(field lru hit_rate < out.json)" 0
check "belady hit" "$(field belady hit_rate < out.json)" 0.333333
check "belady top hit" "$(field top belady_hit_rate < out.json)" 0.333333
# hot-static: 2 of the 3 equally hot pairs pinned (the lowest slots on ties): 6 of 9 hit
check "hot-static cyclic hit" "$(field hot-static hit_rate < out.json)" 0.666667
# belady per token: 1/3 hit, 2/3 promoted: slow 4/3 GB, DRAM read 1/3, write 2/3
check "belady slow_read" "$(field belady slow_read < out.json)" 1333333333
check "belady dram_write" "$(field belady dram_write < out.json)" 666666667

# --- block tier (the bench profile's file tier): DRAM 10 GB/s read, 5 write;
# files 1 GB/s, 1000 us a fetch (the 4 KiB read's latency: file_read_latency_us
# is a whole 4 MiB read, transfer included, and must not be charged again);
# CPU 2.125 GB/s of q8_0 = 2e9 weights/s.
cat > machine.json <<'J'
{"schema":1,"host":"t","cores":2,"dram_read_gbps":10,"dram_write_gbps":5,"file_read_gbps":1,
 "file_read_latency_us":9999,"file_read_4k_latency_us":1000,"promote_gbps":{"copy":3,"lock":4,"move_pages":2},
 "fault_us":1,"mprotect_us":2,"cpu_dot_gbps":2.125}
J
# LRU on a, 2 slots: .75 hits, .25 fetched per token. A fetch reads the file
# (.25 GB) into DRAM (.25 GB written), then the CPU reads it there: DRAM read
# 1 GB. t_dram = 1/10 + .25/5 = .15; t_slow = .25/1 + .25 x 1e-3 = .25025.
# The CPU: one q8_0 expert of 1 GB is 1e9 x 32/34 weights = .941176e9, at 2e9
# a second: .470588 s, the ceiling: 2.125 tok/s.
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file machine.json --quant q8_0 --policy lru
check "block lru slow_read" "$(field top slow_read < out.json)" 250000000
check "block lru dram_read" "$(field top dram_read < out.json)" 1000000000
check "block lru dram_write" "$(field top dram_write < out.json)" 250000000
check "cpu ceiling tok/s" "$(field top tokens_per_s < out.json)" 2.125
check "cpu ceiling bound" "$(field lru bound < out.json)" cpu
grep -q '"slow_kind":"block"' out.json || fail "the profile's file tier is not a block tier"
grep -q '"name":"all-slow"' out.json && fail "a block tier has no all-slow row (the page cache is DRAM)"
grep -q '"name":"memory-mode"' out.json && fail "only Optane has Memory Mode"
# without the ceiling the slow tier waits: 1/.25025 = 3.996 tok/s
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0
check "block lru tok/s" "$(field top tokens_per_s < out.json)" 3.996
grep -q '"slow_latency_us":1000[,}]' out.json || fail "the fetch latency is not the 4 KiB read's"
# an older profile without the 4 KiB figure: its 4 MiB read less the transfer
# at 1 GB/s (4194.304 us) is the fixed cost: 5194.304 - 4194.304 = 1000 us
sed 's/"file_read_latency_us":9999,"file_read_4k_latency_us":1000/"file_read_latency_us":5194.304/' machine.json > m2.json
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file m2.json --quant q8_0 --policy lru --cpu-gweights 0
check "4 MiB latency less transfer tok/s" "$(field top tokens_per_s < out.json)" 3.996
# and one whose 4 MiB read took no longer than its transfer: no fixed cost
sed 's/"file_read_latency_us":9999,"file_read_4k_latency_us":1000/"file_read_latency_us":2000/' machine.json > m3.json
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file m3.json --quant q8_0 --policy lru --cpu-gweights 0
check "no fixed cost tok/s" "$(field top tokens_per_s < out.json)" 4
# exact reads (bench's file_exact_*: a layer's misses asked for at once, the
# layer waiting for them): 0.5 GB/s and 2000 us a layer with misses. LRU on a:
# .25 of an expert missed a token, in .25 of the layer steps (2 of 8):
# wait = .25/.5 + .25 x 2000e-6 = .5005 s, added to the rest (DRAM .15 s, as
# above): .6505 s, 1.53728 tok/s; with the CPU ceiling (.470588 s) the wait
# adds to it instead of hiding behind it: .971088 s, 1.029773 tok/s.
sed 's/"cpu_dot_gbps":2.125/"cpu_dot_gbps":2.125,"file_exact_gbps":0.5,"file_exact_layer_us":2000/' machine.json > m4.json
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file m4.json --quant q8_0 --policy lru --cpu-gweights 0
check "exact reads tok/s" "$(field top tokens_per_s < out.json)" 1.53728
check "exact reads bound" "$(field lru bound < out.json)" slow
check "exact reads slow_read" "$(field top slow_read < out.json)" 250000000
sim --trace a.trace --cache-frac 0.5 --hw this --hw-file m4.json --quant q8_0 --policy lru
check "exact reads after the CPU tok/s" "$(field top tokens_per_s < out.json)" 1.029773
# the read room's drops (bench's file_exact_drop_added_us: what a drop adds
# beyond the reads in flight), 4000 us: LRU on a with 1 slot misses every
# step (1 expert a token, promoted) and evicts 7 times in 8 tokens (.875 a
# token): wait = 1/.5 + 1 x 2000e-6 + .875 x 4000e-6 = 2.0055 s; DRAM 1/10 +
# 1/5 = .3 s: 2.3055 s, 0.433746 tok/s (2.302 s, 0.434405 without drops)
sed 's/"file_exact_layer_us":2000/"file_exact_layer_us":2000,"file_exact_drop_added_us":4000/' m4.json > m5.json
sim --trace a.trace --cache-frac 0.25 --hw this --hw-file m5.json --quant q8_0 --policy lru --cpu-gweights 0
check "exact reads with drops tok/s" "$(field top tokens_per_s < out.json)" 0.433746
sim --trace a.trace --cache-frac 0.25 --hw this --hw-file m4.json --quant q8_0 --policy lru --cpu-gweights 0
check "exact reads, drops hidden tok/s" "$(field top tokens_per_s < out.json)" 0.434405

# --- read-around (plain mmap on the block tier): one layer of 4 experts, each
# 3 parts of 1e9/3 B (gate, up, down: units u = part x 4 + expert, 12 in all),
# a window of 1.4e9 B = 4 whole parts from the faulting one less 2. Tokens use
# expert 0, then 2. With room for all 12: expert 0's u=0 reads 0-3 (4 parts),
# u=4 reads 2-5 of which 4, 5 are new (2), u=8 reads 6-9 (4); expert 2's u=2
# and u=6 hit, u=10 reads 8-11 of which 10, 11 are new (2). 6 uses, 2 hits, 4
# faults, 12 parts read: per token (3 parts) 6 parts = 2e9 B and 2 faults;
# hit rate 1/3. t_slow = 2 + 2 x 1e-3 s (DRAM: 1/10 + 2/5 s): 0.4995 tok/s.
printf '# model=tiny layers=1 experts=4 topk=1\n0\n2\n' > ra.trace
sim --trace ra.trace --cache-frac 1 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0 \
    --read-around 1400000000 --page-cache lru
check "read-around hit" "$(field lru hit_rate < out.json)" 0.333333
check "read-around slow_read" "$(field lru slow_read < out.json)" 2000000000
check "read-around dram_write" "$(field lru dram_write < out.json)" 2000000000
check "read-around dram_read" "$(field lru dram_read < out.json)" 1000000000
check "read-around tok/s" "$(field lru tokens_per_s < out.json)" 0.4995005
# room for 6 parts: expert 0 as above, then LRU evicts 1, 0, 2, 3 for 6, 7, 9
# and 8 (the cache, newest first: 8 9 7 6 4 5); expert 2 misses all three, u=2
# reads 0-3, u=6 reads 4-7, u=10 reads 8-11, all evicted by then: 12 parts.
# 22 parts over 2 tokens: 11 parts = 3.6667e9 B a token, no hit
sim --trace ra.trace --cache-frac 0.5 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0 \
    --read-around 1400000000 --page-cache lru
check "read-around thrash hit" "$(field lru hit_rate < out.json)" 0
check "read-around thrash slow_read" "$(field lru slow_read < out.json)" 3666666667
# the kernel's lists (the default) start from llama.cpp's load: MAP_POPULATE
# read every part, and with room for all 12 they stay: no reads, every use hits
sim --trace ra.trace --cache-frac 1 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0 \
    --read-around 1400000000
check "read-around kernel lists, all cached: hit" "$(field lru hit_rate < out.json)" 1
check "read-around kernel lists, all cached: slow_read" "$(field lru slow_read < out.json)" 0
check "read-around kernel lists named" "$(field top page_cache < out.json)" kernel
# plain mmap under a cap pays reclaim and the mapping faults beside the reads
# (the profile's drop of a mapped expert: 1e9 B in 1e6 us = 1 GB/s; 16 pages
# a fault of 1 us): the lru case with room for all: 2e9 B a token read, so
# t_slow = 2 + 2 x 1e-3 (reads) + 2 (reclaim) + 2e9 / 65536 x 1e-6 (faults)
# = 4.0325176 s: 0.247984 tok/s
sed 's/"cpu_dot_gbps":2.125}/"cpu_dot_gbps":2.125,"file_exact_drop_us":1000000,"fault_pages_per_fault":16,\n "exact_reads":{"experts":"t","k":1,"expert_bytes":1000000000}}/' machine.json > m6.json
sim --trace ra.trace --cache-frac 1 --hw this --hw-file m6.json --quant q8_0 --policy lru --cpu-gweights 0 \
    --read-around 1400000000 --page-cache lru
check "read-around with reclaim and faults slow_read" "$(field lru slow_read < out.json)" 2000000000
check "read-around with reclaim and faults tok/s" "$(field lru tokens_per_s < out.json)" 0.247984
# ... and only plain mmap's rows: the policy's row (no read-around) is as before
sim --trace ra.trace --cache-frac 0.5 --hw this --hw-file m6.json --quant q8_0 --policy lru --cpu-gweights 0
check "no read-around, reclaim not charged slow_read" "$(field lru slow_read < out.json)" 1000000000
check "no read-around, reclaim not charged tok/s" "$(field lru tokens_per_s < out.json)" "$(sim --trace ra.trace --cache-frac 0.5 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0; field lru tokens_per_s < out.json)"
"$MOETIER" sim --trace ra.trace --cache-frac 0.5 --hw this --hw-file machine.json --read-around 16M --page-cache mglru \
    > /dev/null 2>&1
[ $? = 2 ] || fail "--page-cache mglru is not a usage error"
# without it the lru row reads whole experts only (2 misses of 1e9)
sim --trace ra.trace --cache-frac 0.5 --hw this --hw-file machine.json --quant q8_0 --policy lru --cpu-gweights 0
check "no read-around slow_read" "$(field lru slow_read < out.json)" 1000000000
"$MOETIER" sim --trace ra.trace --cache-frac 0.5 --hw optane-6dimm --expert-size 1G --read-around 16M > /dev/null 2>&1
[ $? = 2 ] || fail "--read-around on a byte tier is not a usage error"

# --- GPU: dense 3.06 GB serial (attention), 30.6 GB shared experts beside the
# CPU's experts, at 306 GB/s: .01 s and .1 s; one MoE layer: 20 us of hand-off.
# all-slow: .01 + max(.0253810, .1) + .00002 = .11002 s: 9.0893 tok/s, GPU-bound.
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm+rtx3060-12g --cpu-gweights 0 --dense-bytes 3060000000,30600000000
check "gpu overlap tok/s" "$(field all-slow tokens_per_s < out.json)" 9.08926
check "gpu overlap bound" "$(field all-slow bound < out.json)" gpu
# shared experts of 3.06 GB (.01 s) hide behind the PMem reads:
# .01 + .0253810 + .00002 = .0354010 s: 28.248 tok/s
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm+rtx3060-12g --cpu-gweights 0 --dense-bytes 3060000000,3060000000
check "gpu hidden tok/s" "$(field all-slow tokens_per_s < out.json)" 28.2478
check "gpu hidden bound" "$(field all-slow bound < out.json)" slow
# no GPU: the 6.12 GB of dense weights are DRAM reads: 6.12/102.4 = .0597656 s
# against the slow tier's .0253810: 16.732 tok/s
sim --trace a.trace --cache-frac 0.5 --hw optane-6dimm --cpu-gweights 0 --dense-bytes 3060000000,3060000000
check "no gpu tok/s" "$(field all-slow tokens_per_s < out.json)" 16.732
check "no gpu dram_read" "$(field all-slow dram_read < out.json)" 6120000000
echo "PASS: $test_name"
