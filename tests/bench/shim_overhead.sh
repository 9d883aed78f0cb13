#!/bin/sh
# Benchmark (not a test): what the preload costs when the model fits in DRAM.
#
#   tests/bench/shim_overhead.sh [BUILD_DIR] [SIZE] [TOKENS] [REPS]
#
# Generates a skew-shaped q8_0 model of SIZE (default 1G; llama.cpp keeps q8_0
# in the file mapping), warms the page cache,
# then alternates runs of the real llama.cpp driver (teacher-forced feed of
# TOKENS tokens of data/text/varied.txt, then 32 generated) in one session:
#   plain                 no preload
#   moetier               the preload, default settings (the routing sampler under llama.cpp)
#   moetier, sampler off  the preload with MOETIER_SAMPLER=off (interposition only)
#   moetier, pagemap      MOETIER_SAMPLER=pagemap (the default before the routing sampler)
#   moetier, fault        MOETIER_SAMPLER=fault
#   eval-callback routing no preload; the driver records exact routing through
#                         llama.cpp's cb_eval (what a routing sampler would cost)
# REPS rounds (default 5), each configuration once per round in a rotating
# order, so drift and order effects hit all alike; a ratio is the median over rounds of (configuration / plain of the same
# round). Prints the median decode rates, those ratios (and their range), the sampler's cost per
# sample, and the hit-count accuracy (Spearman against the routing llama.cpp
# recorded) at the defaults and at sampling budgets of 1%, 10% and 100%.
# THREADS=N runs the driver with N threads (default: its own, every core).
# CONFIGS="plain moetier off" runs only those (plain always; default: all six),
# so that longer runs and more rounds fit in the time.
# Results go in docs/bench-shim.md.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
size=${2:-1G}
tokens=${3:-600}
reps=${4:-5}
tflag=${THREADS:+-t $THREADS}
moetier=$build/tools/moetier
driver=$build/tests/bin/llama_driver
lib=$build/shim/.libs/libmoetier.so
acc=$build/tests/bin/accuracy
text=$top/data/text/varied.txt
for f in "$moetier" "$driver" "$lib"; do
    [ -e "$f" ] || { echo "missing $f: build first (scripts/build; make -C build check TESTS= for tests/bin)"; exit 1; }
done
[ -x "$acc" ] || make -s -C "$build" tests/bin/accuracy > /dev/null
tmp=$(mktemp -d /tmp/moetier-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
model=$tmp/bench.gguf
"$moetier" mkmoe "$model" --size "$size" --routing "$top/data/traces/olmoe_counts_c4.counts" -q || exit 1
cat "$model" > /dev/null
export LLAMA_LIBDIR=${LLAMA_LIBDIR:-$top/deps/llama/lib}

run() { # run NAME [env assignments...] [-- driver options]
    name=$1
    shift
    extra=
    if [ "${1:-}" = "--routing" ]; then
        extra="--routing-out $tmp/r.trace --routing-phase feed"
        shift
    fi
    env "$@" "$driver" --quiet $tflag -m "$model" --feed "$text" --feed-max "$tokens" -n 32 $extra \
        > "$tmp/$name.out" 2> "$tmp/$name.err" || { cat "$tmp/$name.err"; exit 1; }
    sed -n 's/^feed_tok_per_s: //p' "$tmp/$name.err" >> "$tmp/$name.rates"
    sed -n 's/.*sampler time [0-9]* us in all, \([0-9]*\) us per sample/\1/p' "$tmp/$name.err" >> "$tmp/$name.cost"
}
common="MOETIER_LOG=info MOETIER_PROFILE=off MOETIER_STATS_DIR=$tmp/stats"
one() {
    case $1 in
    plain) run plain ;;
    moetier) run moetier LD_PRELOAD="$lib" $common ;;
    off) run off LD_PRELOAD="$lib" $common MOETIER_SAMPLER=off ;;
    pagemap) run pagemap LD_PRELOAD="$lib" $common MOETIER_SAMPLER=pagemap ;;
    fault) run fault LD_PRELOAD="$lib" $common MOETIER_SAMPLER=fault ;;
    cbeval) run cbeval --routing ;;
    esac
}
# each round starts with the next configuration, so no configuration always
# runs first (or last) in a round
configs=${CONFIGS:-plain moetier off pagemap fault cbeval}
case " $configs " in *" plain "*) ;; *) configs="plain $configs" ;; esac
i=0
while [ $i -lt "$reps" ]; do
    set -- $configs
    k=0
    while [ $k -lt $((i % $#)) ]; do
        first=$1
        shift
        set -- "$@" "$first"
        k=$((k + 1))
    done
    for c in "$@"; do
        one "$c"
    done
    i=$((i + 1))
done
median() { sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }
# paired ratios: line i of each .rates file is round i
for n in $configs; do
    [ $n = plain ] && continue
    paste "$tmp/$n.rates" "$tmp/plain.rates" | awk '{ print $1 / $2 }' > "$tmp/$n.ratio"
done
echo 1 > "$tmp/plain.ratio"
echo "model: $(du -h "$model" | cut -f1) q8_0 (olmoe c4 shape), $tokens fed tokens, $reps rounds"
echo "sampler: $(sed -n 's/.*info: sampler: \([a-z]*\), .*/\1/p' "$tmp/moetier.err" | head -n 1) by default"
printf '%-24s %10s %8s %18s %16s\n' configuration "tok/s" ratio "[range]" "us per sample"
for n in $configs; do
    c=$( [ -s "$tmp/$n.cost" ] && median "$tmp/$n.cost" || echo -)
    label=$n
    [ $n = off ] && label="moetier, sampler off"
    [ $n = pagemap ] && label="moetier, pagemap sampler"
    [ $n = fault ] && label="moetier, fault sampler"
    [ $n = cbeval ] && label="eval-callback routing"
    printf '%-24s %10.1f %8.3f %18s %16s\n' "$label" "$(median "$tmp/$n.rates")" "$(median "$tmp/$n.ratio")" \
        "[$(sort -g "$tmp/$n.ratio" | head -n 1 | xargs printf %.3f), $(sort -g "$tmp/$n.ratio" | tail -n 1 | xargs printf %.3f)]" "$c"
done
for budget in default 1% 10% 100%; do
    b=MOETIER_SAMPLE_BUDGET=$budget
    [ $budget = default ] && b=MOETIER_LOG=info
    env LD_PRELOAD="$lib" MOETIER_LOG=info MOETIER_PROFILE="$tmp/acc.prof" MOETIER_STATS_DIR="$tmp/stats" \
        $b "$driver" --quiet $tflag -m "$model" --feed "$text" --feed-max "$tokens" -n 1 \
        --routing-out "$tmp/acc.trace" --routing-phase feed > /dev/null 2> "$tmp/acc.err"
    rho=$("$acc" "$tmp/acc.trace" "$tmp/acc.prof" | sed -n 's/^spearman: //p')
    sampled=$(sed -n 's/.*info: \(sampled [0-9]* of [0-9]* decode tokens\).*/\1/p' "$tmp/acc.err")
    rate=$(sed -n 's/^feed_tok_per_s: //p' "$tmp/acc.err")
    echo "budget $budget: spearman $rho ($sampled, $rate tok/s)"
    rm -f "$tmp/acc.prof"
done
