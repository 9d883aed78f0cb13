#!/bin/sh
# Benchmark (not a test): llama.cpp's own llama-bench, unmodified, plain and
# under moetier, side by side in one session, every core.
#
#   tests/bench/llama_bench.sh [BUILD_DIR] [MODEL|SIZE] [REPS] [MOETIER_ENV...]
#
# MODEL is a GGUF; a SIZE (default 1G) makes a q8_0 model of that size shaped
# by the real OLMoE c4 counts. Each round runs llama-bench (-p 128 -n 64 -r 3,
# -t nproc, JSON output) once plain and once under the preload, the order
# alternating between rounds so drift and order hit both alike. Prints
# llama-bench's own pp/tg figures for every run, and per test the median over
# rounds of (moetier / plain of the same round) with its range. MOETIER_ENV
# (e.g. MOETIER_DRAM=256M) go to the moetier runs; default: the defaults.
# Results go in docs/programs.md.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
what=${2:-1G}
reps=${3:-5}
shift $(($# < 3 ? $# : 3))
moetier=$build/tools/moetier
lib=$build/shim/.libs/libmoetier.so
bench=${LLAMA_BINDIR:-$top/deps/llama-bin}/llama-bench
for f in "$moetier" "$lib" "$bench"; do
    [ -e "$f" ] || { echo "missing $f: build first (scripts/build)"; exit 1; }
done
tmp=$(mktemp -d /tmp/moetier-llama-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -f "$what" ]; then
    model=$what
else
    model=$tmp/bench.gguf
    "$moetier" mkmoe "$model" --size "$what" --routing "$top/data/traces/olmoe_counts_c4.counts" -q || exit 1
fi
cat "$model" > /dev/null
nproc=$(nproc)
echo "llama-bench on $(basename "$model") ($(du -h "$model" | cut -f1)), -t $nproc, $reps rounds; moetier env: ${*:-defaults}"

# one NAME: a llama-bench run; appends "NAME ROUND TEST TOK_PER_S" lines
one() {
    name=$1 round=$2
    shift 2
    if [ "$name" = plain ]; then
        "$bench" -m "$model" -p 128 -n 64 -r 3 -t "$nproc" -o json > "$tmp/out.json" 2> "$tmp/err" || { cat "$tmp/err"; exit 1; }
    else
        env MOETIER_PROFILE=off MOETIER_STATS_DIR="$tmp/stats" LD_PRELOAD="$lib" "$@" \
            "$bench" -m "$model" -p 128 -n 64 -r 3 -t "$nproc" -o json > "$tmp/out.json" 2> "$tmp/err" ||
            { cat "$tmp/err"; exit 1; }
    fi
    # llama-bench's JSON: one object per test with n_prompt, n_gen, avg_ts
    { tr -d ' \n' < "$tmp/out.json" | sed 's/},{/}\n{/g'; echo; } | while read -r obj; do
        np=$(echo "$obj" | sed -n 's/.*"n_prompt":\([0-9]*\).*/\1/p')
        ng=$(echo "$obj" | sed -n 's/.*"n_gen":\([0-9]*\).*/\1/p')
        ts=$(echo "$obj" | sed -n 's/.*"avg_ts":\([0-9.e+-]*\).*/\1/p')
        [ "${np:-0}" -gt 0 ] && t=pp$np || t=tg$ng
        echo "$name $round $t $ts"
    done >> "$tmp/results"
}

r=1
while [ $r -le "$reps" ]; do
    if [ $((r % 2)) -eq 1 ]; then one plain $r; one moetier $r "$@"; else one moetier $r "$@"; one plain $r; fi
    r=$((r + 1))
done
awk '{ printf "  round %s %-8s %-6s %8.2f tok/s\n", $2, $1, $3, $4 }' "$tmp/results"
echo "median of (moetier / plain) over rounds, [min, max]:"
for t in $(awk '{print $3}' "$tmp/results" | sort -u); do
    ratios=$(awk -v t="$t" '$3 == t { v[$1 " " $2] = $4 } END { for (k in v) { split(k, a, " "); if (a[1] == "moetier" && v["plain " a[2]] > 0) print v[k] / v["plain " a[2]] } }' "$tmp/results" | sort -n)
    n=$(echo "$ratios" | wc -l)
    med=$(echo "$ratios" | sed -n "$(((n + 1) / 2))p")
    plain=$(awk -v t="$t" '$1 == "plain" && $3 == t { print $4 }' "$tmp/results" | sort -n | sed -n "$(((reps + 1) / 2))p")
    printf "  %-6s plain %8.2f tok/s (median)   moetier/plain %.3f [%.3f, %.3f]\n" "$t" "$plain" "$med" \
        "$(echo "$ratios" | head -n 1)" "$(echo "$ratios" | tail -n 1)"
done
