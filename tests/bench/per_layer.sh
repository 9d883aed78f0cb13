#!/bin/sh
# Benchmark (not a test): per token against per layer on the copy tier.
#
#   tests/bench/per_layer.sh [BUILD_DIR] [SIZE] [TOKENS] [REPS]
#
# For each real trace in data/traces/*.trace: a model of its shape and SIZE
# (default 200M, q8_0: `moetier mkmoe --routing TRACE --size SIZE`), the real
# llama.cpp driver generating TOKENS tokens (default 300) with the trace's
# routing injected (--route), page cache warm, THREADS threads (default: the
# driver's own, every core). Configurations, REPS rounds (default 3), the
# order rotated each round:
#   plain   no preload
#   token   moetier, copy tier, a DRAM cache of a quarter of the experts, every
#           step sampled (MOETIER_SAMPLE_BUDGET=100%), MOETIER_PER_LAYER=off
#   layer   the same with MOETIER_PER_LAYER=on
#   auto    the same with MOETIER_PER_LAYER=auto (the measurement decides)
# Prints per trace and configuration the median (range) of generated tok/s,
# the median of (run / plain of the same round), and the slow-tier bytes per
# token and DRAM hit rate from moetier's exit line (the bytes: demand misses
# read in place plus promotions). Tokens are checked identical to plain in
# every run. Results go in docs/tiering.md ("Per layer").
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
size=${2:-200M}
tokens=${3:-300}
reps=${4:-3}
tflag=${THREADS:+-t $THREADS}
moetier=$build/tools/moetier
driver=$build/tests/bin/llama_driver
lib=$build/shim/.libs/libmoetier.so
for f in "$moetier" "$driver" "$lib"; do
    [ -e "$f" ] || { echo "missing $f: build first (scripts/build; make -C build check TESTS= for tests/bin)"; exit 1; }
done
tmp=$(mktemp -d /tmp/moetier-perlayer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export LLAMA_LIBDIR=${LLAMA_LIBDIR:-$top/deps/llama/lib}
configs="plain token layer auto"

run() { # run TRACE NAME ROUND: appends "NAME ROUND TOK_PER_S MIB_PER_TOKEN HIT" to $tmp/res
    trace=$1 name=$2 round=$3
    out=$tmp/$name.$round
    case $name in
    plain) "$driver" --quiet -m "$model" -n "$tokens" $tflag --route "$trace" > "$out.out" 2> "$out.err" ;;
    *)
        mode=off
        [ "$name" = layer ] && mode=on
        [ "$name" = auto ] && mode=auto
        MOETIER_PER_LAYER=$mode MOETIER_PROMOTE=copy MOETIER_DRAM=$dram MOETIER_SAMPLE_BUDGET=100% MOETIER_PROFILE=off \
            MOETIER_LOG=info LD_PRELOAD=$lib "$driver" --quiet -m "$model" -n "$tokens" $tflag --route "$trace" \
            > "$out.out" 2> "$out.err"
        ;;
    esac || { echo "$name round $round failed:"; tail -n 5 "$out.err"; exit 1; }
    got=$(sed -n 's/^tokens: //p' "$out.out")
    [ "$got" = "$want" ] || { echo "$name round $round: tokens differ from plain"; exit 1; }
    tps=$(cat "$out.out" "$out.err" | sed -n 's/^gen_tok_per_s: //p' | head -n 1)
    line=$(grep "slow-tier reads per decode token" "$out.err")
    mib=$(echo "$line" | sed -n 's/.*per decode token \([0-9.]*\) \([KMG]i\{0,1\}B\).*/\1 \2/p' |
        awk '{ v = $1; if ($2 == "KiB") v /= 1024; if ($2 == "GiB") v *= 1024; if ($2 == "B") v /= 1048576; printf "%.3f", v }')
    hit=$(echo "$line" | sed -n 's/.*DRAM hit rate \([0-9.]*\).*/\1/p')
    echo "$name $round $tps ${mib:--} ${hit:--}" >> "$tmp/res"
    [ "$name" = auto ] && sed -n 's/.*migration: per \([a-z]*\)[ ,(].*measured \([+-][0-9.]*%\).*/per \1 at \2/p' "$out.err" |
        head -n 1 >> "$tmp/decisions"
    return 0
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

echo "per_layer bench: SIZE $size, $tokens tokens, $reps rounds, threads ${THREADS:-driver default}, $(date -u +%FT%TZ)"
for trace in "$top"/data/traces/*.trace; do
    tname=$(basename "$trace" .trace)
    model=$tmp/$tname.gguf
    "$moetier" mkmoe "$model" --routing "$trace" --size "$size" -q || exit 1
    experts=$("$moetier" inspect "$model" --json 2> /dev/null | sed -n 's/.*"expert_bytes_total":\([0-9]*\).*/\1/p')
    [ -n "$experts" ] || experts=$(stat -c %s "$model")
    dram=$((experts / 4))
    cat "$model" > /dev/null
    "$driver" --quiet -m "$model" -n "$tokens" $tflag --route "$trace" > "$tmp/want.out" 2> /dev/null || exit 1
    want=$(sed -n 's/^tokens: //p' "$tmp/want.out")
    : > "$tmp/res"
    : > "$tmp/decisions"
    r=0
    while [ $r -lt "$reps" ]; do
        set -- $configs
        i=0
        while [ $i -lt $((r % 4)) ]; do set -- "$@" "$1"; shift; i=$((i + 1)); done
        for c in "$@"; do run "$trace" "$c" "$r"; done
        r=$((r + 1))
    done
    echo "== $tname (cache $dram bytes of $experts of experts)"
    printf '%-6s %-22s %-14s %-16s %s\n' config "tok/s median (range)" "/ plain" "MiB/token" "hit rate"
    for c in $configs; do
        tps=$(awk -v c=$c '$1 == c { print $3 }' "$tmp/res")
        ratio=$(awk -v c=$c '$1 == "plain" { p[$2] = $3 } $1 == c { v[$2] = $3 } END { for (k in v) if (p[k] > 0) print v[k] / p[k] }' "$tmp/res" | median)
        mib=$(awk -v c=$c '$1 == c { print $4 }' "$tmp/res")
        hit=$(awk -v c=$c '$1 == c { print $5 }' "$tmp/res")
        printf '%-6s %-22s %-14s %-16s %s\n' "$c" "$(echo "$tps" | median) ($(echo "$tps" | range))" "$ratio" \
            "$(echo "$mib" | median) ($(echo "$mib" | range))" "$(echo "$hit" | median)"
    done
    sort "$tmp/decisions" | uniq -c | sed 's/^/  auto: /'
done
