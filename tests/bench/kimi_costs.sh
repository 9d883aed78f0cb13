#!/bin/sh
# Benchmark (not a test): what moetier costs per decode step on the Kimi K2.5
# grid (61 blocks, 384 routed + 1 shared experts, top-8; mkmoe --like kimi-k2.5
# at a tiny width), under llama.cpp's own llama-completion on every core.
#
#   tests/bench/kimi_costs.sh [BUILD_DIR] [TOKENS] [REPS]
#
# Configurations, each once per round in a rotating order (REPS rounds, default
# 3), page cache warm, the model fitting in memory:
#   plain        no preload
#   off          the preload with MOETIER_SAMPLER=off (interposition, stats)
#   routing      the defaults (the routing sampler, no cache: the model fits)
#   pagemap      MOETIER_SAMPLER=pagemap
#   fault        MOETIER_SAMPLER=fault
#   engine       the defaults plus a DRAM cache of a quarter of the expert
#                bytes (copy promotion, the adapt policy, every step sampled)
# Per configuration: the decode step time llama.cpp itself reports (eval time
# per token; median over rounds) and its ratio to plain of the same round, the
# sampler's own time per sample (moetier's exit line), and the peak RSS over
# plain's (moetier's own memory: tables, stats segment, sampler, cache).
# Results go in docs/programs.md.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
tokens=${2:-64}
reps=${3:-3}
moetier=$build/tools/moetier
lib=$build/shim/.libs/libmoetier.so
completion=${LLAMA_BINDIR:-$top/deps/llama-bin}/llama-completion
for f in "$moetier" "$lib" "$completion" /usr/bin/time; do
    [ -e "$f" ] || { echo "missing $f"; exit 1; }
done
tmp=$(mktemp -d /tmp/moetier-kimi-costs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
model=$tmp/kimi.gguf
"$moetier" mkmoe "$model" --like kimi-k2.5 --embd 32 --ff 256 --type q8_0 -q || exit 1
cat "$model" > /dev/null
eb=$("$moetier" inspect --json "$model" | sed -n 's/.*"expert_bytes_total":\([0-9]*\).*/\1/p')
nproc=$(nproc)
echo "Kimi grid: $(du -h "$model" | cut -f1), 60 x 384 top-8, llama-completion -n $tokens -t $nproc, $reps rounds"

one() { # NAME ROUND: appends "NAME ROUND MS_PER_TOKEN MAXRSS_KB US_PER_SAMPLE"
    name=$1 round=$2
    set -- "$completion" -m "$model" -p "The old lighthouse keeper looked at the sea and said" -n "$tokens" \
        --temp 0 --seed 1 -t "$nproc" -no-cnv
    case $name in
    plain) /usr/bin/time -f "maxrss %M" "$@" > /dev/null 2> "$tmp/err" ;;
    *)
        case $name in
        off) env="MOETIER_SAMPLER=off" ;;
        routing) env="MOETIER_SAMPLER=auto" ;;
        pagemap) env="MOETIER_SAMPLER=pagemap" ;;
        fault) env="MOETIER_SAMPLER=fault" ;;
        engine) env="MOETIER_DRAM=$((eb / 4)) MOETIER_SAMPLE_BUDGET=100% MOETIER_SAMPLE_MS=1" ;;
        esac
        /usr/bin/time -f "maxrss %M" env MOETIER_PROFILE=off MOETIER_STATS_DIR="$tmp/stats" MOETIER_LOG=info \
            LD_PRELOAD="$lib" $env "$@" > /dev/null 2> "$tmp/err" ;;
    esac
    ms=$(sed -n 's/.* eval time = .*( *\([0-9.]*\) ms per token.*/\1/p' "$tmp/err" | grep -v '^$' | tail -n 1)
    rss=$(sed -n 's/^maxrss //p' "$tmp/err")
    us=$(sed -n 's/.*sampler time .*, \([0-9]*\) us per sample.*/\1/p' "$tmp/err")
    echo "$name $round ${ms:-0} ${rss:-0} ${us:--}" >> "$tmp/results"
    [ "$name" = engine ] && grep 'moetier.*info: tiering: [0-9]* promotions' "$tmp/err" | sed 's/^/    /' >> "$tmp/engine"
}

configs="plain off routing pagemap fault engine"
r=1
while [ $r -le "$reps" ]; do
    order=$configs
    i=1
    while [ $i -lt $r ]; do order="$(echo $order | cut -d' ' -f2-) $(echo $order | cut -d' ' -f1)"; i=$((i + 1)); done
    for c in $order; do one "$c" $r; done
    r=$((r + 1))
done
# column COL of $tmp/rows, sorted: median, min, max (POSIX awk: no asort)
stats() { cut -d' ' -f"$1" "$tmp/rows" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'; }
printf "%-8s %14s %22s %12s %14s\n" config "ms per token" "vs plain [range]" "sampler us" "RSS over plain"
for c in $configs; do
    # one row per round: ms, plain's ms / this one's, RSS over plain's in MiB, sampler us
    awk -v c="$c" '
        { ms[$1 " " $2] = $3; rss[$1 " " $2] = $4; us[$1 " " $2] = $5 }
        END {
            for (k in ms) {
                split(k, a, " ")
                if (a[1] != c || ms[k] <= 0) continue
                printf "%s %s %s %s\n", ms[k], ms["plain " a[2]] / ms[k], (rss[k] - rss["plain " a[2]]) / 1024, us[k]
            }
        }' "$tmp/results" > "$tmp/rows"
    set -- $(stats 1) $(stats 2) $(stats 3) $(stats 4)
    printf "%-8s %14.2f %8.3f [%.3f, %.3f] %12s %10.1f MiB\n" "$c" "$1" "$4" "$5" "$6" "${10}" "$7"
done
echo "(vs plain: plain's decode rate over this one's, median over rounds [range]; 1.000 = no cost)"
[ -f "$tmp/engine" ] && { echo "engine runs:"; cat "$tmp/engine"; }
