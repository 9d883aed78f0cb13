#!/bin/sh
# The plots: `moetier sim --sweep --plot` (two panels of lines against the DRAM
# budget, plot_png.h's layout) and `moetier replay --residency-plot` (a column
# per token, a row per pair). Both are read back with libpng: their size, every
# line's colour in both panels and the legend, a replay's first two tokens
# worked by hand, and on the real intent trace as many resident pixels per
# column as replay --json's slots once the cache is full. Bad input: exit 2,
# one line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"
[ -x "$PNG_READ" ] || skip "png_read not built"
cd "$TMP" || fail "no $TMP"
printf '# model=tiny layers=2 experts=4 topk=2\n0,1 2,3\n0,2 1,3\n1,2 0,3\n0,1 2,3\n' > t.trace

# sim: 1000 x 2 panels of 340; the legend is the last 220 columns
"$MOETIER" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 2G,4G,6G --plot s.png > s.txt ||
    fail "sim --sweep --plot exited $?"
ls | grep -q 'tmp' && fail "a temporary file was left: $(ls)"
head -c 8 s.png | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "no PNG signature"
grep -q '^4G ' s.txt || fail "no 4G line in the sweep's table: $(cat s.txt)"
"$MOETIER" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 2G,4G,6G --json > s.json ||
    fail "sim --sweep --json exited $?"
json_ok s.json
[ "$(grep -o '"dram_bytes"' s.json | wc -l)" -eq 3 ] || fail "not 3 budgets in the sweep's JSON: $(cat s.json)"
nrows=$(grep -o '"name":"[a-z-]*"' s.json | sort -u | wc -l)
[ "$nrows" -ge 5 ] || fail "only $nrows rows in the sweep: $(cat s.json)"
# the palette (tools/plot_lines.c), one colour per row
colors="e69f00 56b4e9 009e73 0072b2 d55e00 cc79a7 000000"
cols=""
i=0
for c in $colors; do
    [ $i -lt "$nrows" ] && cols="$cols $c"
    i=$((i + 1))
done
"$PNG_READ" s.png rows=0:340 cols=0:780 $cols rows=340:680 $cols cols=780:1000 rows=0:680 $cols > info ||
    fail "libpng cannot read the sweep's plot"
[ "$(head -1 info)" = 1000x680 ] || fail "sweep plot is $(head -1 info), not 1000x680"
awk 'NR > 1 && $2 == 0 { print "colour " $1 " missing (line " NR ")"; bad = 1 } END { exit bad }' info ||
    fail "a line's colour is missing from a panel or the legend: $(cat info)"
# no line is drawn in a colour of no row (the grey after the seventh)
"$PNG_READ" s.png 999999 | grep -q '^999999 0$' || fail "an eighth series' grey in a plot of $nrows rows"

# replay, hand-worked: lru at 50% = 4 slots. Token 0 misses L0 e0 e1, L1 e2 e3;
# token 1 hits L0 e0 and L1 e3, misses L0 e2 (evicting L0 e1) and L1 e1
# (evicting L1 e2). The grid starts at (60, 64); layer l's expert e is row
# 64 + l * 5 + e, token t column 60 + t.
"$MOETIER" replay t.trace --policy lru --cache 50% --residency-plot r.png > /dev/null ||
    fail "replay --residency-plot exited $?"
miss=d55e00 hit=0072b2 idle=bcdcf2
"$PNG_READ" r.png cols=60:61 rows=64:74 $miss $hit $idle cols=61:62 $miss $hit $idle \
    rows=66:67 $miss rows=70:71 $miss rows=64:65 $hit rows=72:73 $hit > info || fail "libpng cannot read r.png"
[ "$(head -1 info)" = 760x138 ] || fail "residency plot is $(head -1 info), not 760x138"
[ "$(sed 1d info | awk '{ print $2 }' | tr '\n' ' ')" = "4 0 0 2 2 0 1 1 1 1 " ] ||
    fail "token 0 and 1 are not as worked by hand: $(cat info)"

# the intent trace: 26 x 64 pairs, 25% = 416 slots; after warm-up every column
# holds exactly that many resident pixels (idle, hit or fetched); auto (adapt)
# reads most misses in place, and those must not count (black, not blue)
T=$TOP_SRCDIR/data/traces/deepseekv2lite_esft_intent.trace
"$MOETIER" replay "$T" --policy auto --cache 25% --json --residency-plot i.png --plot-tokens 100:400 > i.json ||
    fail "replay the intent trace exited $?"
slots=$(sed -n 's/.*"slots":\([0-9]*\).*/\1/p' i.json)
[ "$slots" = 416 ] || fail "slots $slots, not 416: $(cat i.json)"
bottom=$((64 + 26 * 65))
for t in 0 150 299; do
    x=$((60 + t))
    n=$("$PNG_READ" i.png cols=$x:$((x + 1)) rows=64:$bottom $idle $hit $miss | awk 'NR > 1 { n += $2 } END { print n }')
    [ "$n" = "$slots" ] || fail "token $((100 + t)): $n resident pixels, not $slots"
done
"$PNG_READ" i.png rows=64:$bottom 000000 | grep -q '^000000 0$' && fail "no read in place marked (black)"

bad() { # bad WORD ARGS...: exit 2 with one line holding WORD
    word=$1
    shift
    expect_exit 2 "$word" "$MOETIER" "$@"
}
bad "--plot draws a --sweep" sim --trace t.trace --expert-size 1G --hw optane-6dimm --dram 2G --plot x.png
bad "give one of" sim --trace t.trace --expert-size 1G --hw optane-6dimm --dram 2G --sweep 2G,4G
bad "bad --sweep '4G,2G'" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 4G,2G
bad "bad --sweep '2G,,4G'" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 2G,,4G
bad "--plot needs" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 2G --plot ''
bad "--sweep 1K" sim --trace t.trace --expert-size 1G --hw optane-6dimm --sweep 1K,2G
bad "one --policy and one --cache" replay t.trace --policy lru,lfu --cache 50% --residency-plot x.png
bad "one --policy and one --cache" replay t.trace --policy lru --cache 25%,50% --residency-plot x.png
bad "--plot-tokens is for" replay t.trace --policy lru --cache 50% --plot-tokens 0:2
bad "bad --plot-tokens '3:1'" replay t.trace --policy lru --cache 50% --residency-plot x.png --plot-tokens 3:1
bad "the trace has 4 tokens" replay t.trace --policy lru --cache 50% --residency-plot x.png --plot-tokens 9:
expect_exit 1 "No such file or directory" "$MOETIER" replay t.trace --policy lru --cache 50% \
    --residency-plot "$TMP/no/such/r.png"
[ -e x.png ] && fail "a refused command wrote x.png"
echo "PASS: $test_name"
