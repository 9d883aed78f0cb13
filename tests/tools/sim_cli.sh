#!/bin/sh
# moetier sim: real shapes' bytes (worked out by hand below), the table, the
# machine profile `--hw this` reads (missing keys fall back with a note), and
# bad input: exit 2 with one line naming what was wrong.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
cd "$TMP" || fail "no $TMP"
XDG_STATE_HOME=$TMP/state
export XDG_STATE_HOME
printf '# model=tiny layers=2 experts=4 topk=2\n0,1 2,3\n0,2 1,3\n1,2 0,3\n0,1 2,3\n' > t.trace

# Kimi K2.5's expert: gate, up and down of 7168 x 2048 = 44040192 weights; q4_K
# stores 256 weights in 144 bytes: 24772608 bytes. A token reads 60 MoE layers x
# top-8 = 480 experts: all-slow reads 480 x 24772608 = 11890851840 bytes.
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --hw optane-6dimm --shape kimi-k2.5 --quant q4_K --json > k4.json ||
    fail "sim kimi q4_K exited $?"
grep -q '"expert_bytes":2.47726e+07' k4.json || fail "kimi q4_K expert bytes: $(cat k4.json)"
grep -q '"moe_layers":60,"experts":384,"topk":8' k4.json || fail "kimi grid: $(cat k4.json)"
sed 's/{"name":/\n{"name":/g' k4.json | grep '^{"name":"all-slow"' | grep -q '"slow_read":1.18909e+10' ||
    fail "kimi all-slow bytes per token: $(cat k4.json)"
# q2_K: 84 bytes per 256 weights: 14450688; Qwen3-235B at q8_0: 3 x 4096 x 1536 x 34/32 = 20054016
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --hw optane-6dimm --shape kimi-k2.5 --quant q2_K --json |
    grep -q '"expert_bytes":1.44507e+07' || fail "kimi q2_K expert bytes"
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --hw optane-6dimm --shape qwen3-235b --quant q8_0 --json |
    grep -q '"moe_layers":94,"experts":128,"topk":8,"expert_bytes":2.0054e+07' || fail "qwen3-235b q8_0 shape"
# DeepSeek V3: 3 dense blocks lead its 61, 256 experts
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --hw nvme-gen4 --shape deepseek-v3 --quant q4_K --json |
    grep -q '"moe_layers":58,"experts":256' || fail "deepseek-v3 grid"
# --dram as bytes: 2 of 8 pairs' worth of 1 GiB experts is a quarter
"$MOETIER" sim --trace t.trace --dram 2G --expert-size 1G --hw nvme-gen4 --json | grep -q '"cache_share":0.25,"slots":2' ||
    fail "--dram 2G of 8 GiB is not a share of .25"

# --policy lru or belady: its row once, and the top-level figures are that row's
for p in lru belady; do
    "$MOETIER" sim --trace t.trace --cache-frac 0.5 --expert-size 1G --hw optane-6dimm --policy $p --json > p.json ||
        fail "--policy $p exited $?"
    [ "$(grep -o "\"name\":\"$p\"" p.json | wc -l)" -eq 1 ] || fail "--policy $p: not one $p row: $(cat p.json)"
done

# the table: a row per scenario, auto named as what it runs
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --hw ddr4-2666x6+optane-6dimm --shape kimi-k2.5 --quant q2_K > table ||
    fail "table exited $?"
for w in '^memory-mode ' '^all-slow ' '^lru ' '^auto=auto ' '^belady ' '^bandwidth ' 'machine:  DRAM ddr4-2666x6' \
    'kimi-k2.5 at q2_K'; do
    grep -q "$w" table || fail "table lacks $w: $(cat table)"
done

# On a real trace (200 tokens of esft intent) and every kind of tier, in both
# stream modes: no scenario beats the bandwidth bound (it reads the same
# experts with no writes, no latency and the best split), and the top-level
# figures are the policy's row.
g=$TOP_SRCDIR/tests/tiering/golden/esft_intent_200.trace
for hw in ddr4-2666x6+optane-6dimm+rtx3060-12g ddr5-4800x8+nvme-gen4 ddr5-4800x12+cxl-x8; do
    for st in parallel serial; do
        "$MOETIER" sim --trace "$g" --dram 128G --hw $hw --shape kimi-k2.5 --quant q4_K --streams $st --colloid --json \
            > real.json || fail "sim $hw $st exited $?"
        sed 's/"rows":/\n/' real.json | tail -1 | grep -o '"tokens_per_s":[0-9.e+-]*' | cut -d: -f2 > tps
        bw=$(sed -n 's/.*"bandwidth_tokens_per_s":\([0-9.e+-]*\).*/\1/p' real.json)
        [ "$(wc -l < tps)" -ge 4 ] || fail "$hw $st: too few rows: $(cat real.json)"
        awk -v b="$bw" '$1 > b * (1 + 1e-6) { bad = 1 } END { exit bad }' tps ||
            fail "$hw $st: a row beats the bandwidth bound $bw: $(tr '\n' ' ' < tps)"
        top=$(sed 's/"rows":.*//' real.json | sed -n 's/.*"tokens_per_s":\([0-9.e+-]*\).*/\1/p')
        row=$(sed 's/{"name":/\n{"name":/g' real.json | grep '^{"name":"auto"' | sed -n 's/.*"tokens_per_s":\([0-9.e+-]*\).*/\1/p')
        [ -n "$top" ] && [ "$top" = "$row" ] || fail "$hw $st: top tokens_per_s $top is not auto's $row"
    done
done

# --hw this: the profile in $XDG_STATE_HOME, or --hw-file
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --expert-size 1G 2> err; [ $? -eq 2 ] || fail "no profile: expected exit 2"
[ "$(wc -l < err)" -eq 1 ] && grep -q "no machine profile $TMP/state/moetier/machine.json" err || fail "no profile: $(cat err)"
mkdir -p state/moetier
printf '{"schema":1,"host":"h","dram_read_gbps":20,"file_read_gbps":2}\n' > state/moetier/machine.json
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --expert-size 1G --json > this.json 2> err || fail "partial profile exited $?"
grep -q 'lacks cpu_dot_gbps: no CPU ceiling' err || fail "no note on cpu_dot_gbps: $(cat err)"
grep -q 'lacks dram_write_gbps' err || fail "no note on dram_write_gbps: $(cat err)"
grep -q '"dram_read_gbps":20,"dram_write_gbps":20,"slow_read_gbps":2' this.json || fail "profile figures: $(cat this.json)"
# a named part wins over the profile's
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --expert-size 1G --hw this+optane-6dimm --json 2>/dev/null |
    grep -q '"dram":"this","slow":"optane-6dimm","slow_kind":"byte"' || fail "this+optane-6dimm"
printf '{"schema":1,"file_read_gbps":2}\n' > bad.json
"$MOETIER" sim --trace t.trace --cache-frac 0.5 --expert-size 1G --hw-file bad.json 2> err; [ $? -eq 2 ] ||
    fail "profile without dram_read_gbps: expected exit 2"
grep -q "bad.json lacks dram_read_gbps" err || fail "missing key message: $(cat err)"

# bad input: exit 2, one line naming it
bad() { # bad WORD ARGS...: exit 2 with one line that contains WORD
    w=$1
    shift
    "$MOETIER" sim "$@" > /dev/null 2> err
    rc=$?
    [ $rc -eq 2 ] || fail "sim $*: exit $rc, want 2"
    [ "$(wc -l < err)" -eq 1 ] || fail "sim $*: not one line: $(cat err)"
    grep -q -- "$w" err || fail "sim $*: message lacks '$w': $(cat err)"
}
bad "optane-9dimm" --trace t.trace --cache-frac 0.5 --expert-size 1G --hw ddr4-2666x6+optane-9dimm
bad "two DRAM" --trace t.trace --cache-frac 0.5 --expert-size 1G --hw ddr4-2666x6+ddr5-4800x8+nvme-gen4
bad "no slow tier" --trace t.trace --cache-frac 0.5 --expert-size 1G --hw ddr4-2666x6
bad "bad --dram '12Q'" --trace t.trace --dram 12Q --expert-size 1G --hw nvme-gen4
bad "bad --cache-frac" --trace t.trace --cache-frac 1.5 --expert-size 1G --hw nvme-gen4
bad "one of --dram" --trace t.trace --dram 1G --cache-frac 0.5 --expert-size 1G --hw nvme-gen4
bad "missing --trace" --cache-frac 0.5 --expert-size 1G --hw nvme-gen4
bad "nonexistent.trace" --trace nonexistent.trace --cache-frac 0.5 --expert-size 1G --hw nvme-gen4
bad "no order" --trace "$TOP_SRCDIR/data/traces/olmoe_counts_c4.counts" --cache-frac 0.5 --expert-size 1G --hw nvme-gen4
bad "unknown --shape 'kimi'" --trace t.trace --cache-frac 0.5 --shape kimi --hw nvme-gen4
bad "unknown --quant 'q3'" --trace t.trace --cache-frac 0.5 --shape kimi-k2.5 --quant q3 --hw nvme-gen4
bad "unknown --policy 'fifo'" --trace t.trace --cache-frac 0.5 --expert-size 1G --policy fifo --hw nvme-gen4
bad "less than one" --trace t.trace --cache-frac 0.01 --expert-size 1G --hw nvme-gen4
bad "--shape NAME or --expert-size" --trace t.trace --cache-frac 0.5 --hw nvme-gen4
"$MOETIER" sim --help | grep -q "usage: moetier sim" || fail "--help"
echo "PASS: $test_name"
