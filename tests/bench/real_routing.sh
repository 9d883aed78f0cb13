#!/bin/sh
# Benchmark (not a test; make check never runs it): issue 12's capped
# benchmark on real routing. For each .trace file, the real llama.cpp decodes
# a model of the trace's grid with the trace's experts injected (the driver's
# --route), in a memory cgroup of CAP (about half the model), every core,
# page cache dropped before every run (tests/bench/capped.sh does the runs):
#
#   tests/bench/real_routing.sh [BUILD_DIR] [SIZE] [CAP] [TOKENS] [REPS] [TRACE...]
#
# Defaults: build, 800M (a 674 MiB q8_0 file for a 26 x 64 grid), 340M, 60,
# 3, every data/traces/*.trace. Models are made once per grid (layers x
# experts x top-k) with `moetier mkmoe --routing TRACE --size SIZE --type
# q8_0` in RR_DIR (default /var/tmp/moetier-rr) and kept there.
#
# Configurations (the anchors issue 12 names), rounds rotated:
#   uncapped  plain llama.cpp, no cgroup, page cache warm (the ceiling)
#   capped    plain llama.cpp in the cgroup
#   moetier   moetier's defaults: the routing sampler's exact reads layer by
#             layer (shim/reads.c) and the read room deciding what stays in
#             the page cache (shim/read_room.c)
#   fetch     moetier with MOETIER_SAMPLER=fault: the fetch sampler (each
#             expert read at its first fault; the default before 2026-12-07)
#   exact     exact reads alone: moetier with MOETIER_READ_ROOM=off and
#             MOETIER_DRAM=1M (no room, no locked set: the kernel's reclaim
#             decides; ik_llama.cpp's --prefetch-experts does this)
#   pin       static hot pinning: mlock of the hottest third of the experts by
#             a profile recorded on held-out text (llama.cpp's pin-hot-experts
#             proposals; tests/bench/pin_hot.c)
#   lru       an LRU expert cache: moetier with MOETIER_POLICY=lru (the read
#             room in recency order: llama.cpp's --moe-expert-cache proposal)
#
# Disk bytes per decoded token: what the driver read from storage during the
# feed (its feed_read_bytes, /proc/self/io: faults, readaheads and the
# kernel's read-around, not the load's) / TOKENS, median over rounds. The
# bound: `moetier replay --policy belady` on the rows the feed decoded (the
# first TOKENS of the trace, cold start), with a cache of the page cache the
# cap left the plain capped run (the cgroup's cache after it, median): the
# reads per token of a clairvoyant cache of the same memory, whole experts,
# no read-around; replay's lru at that cache beside it. The same over the
# feed's second half (the driver's feed_read_bytes_second_half against
# replay's second-half hit rate): the cache warm, the start left out (its first
# steps, before moetier's reads are in place, read most of the model).
# Needs what capped.sh needs: root, the cgroup v1 memory controller, fincore,
# GNU time. Results: docs/bench-capped.md ("Real routing").
set -eu
build=${1:-build}
size=${2:-800M}
cap=${3:-340M}
tokens=${4:-60}
reps=${5:-3}
[ $# -gt 5 ] && shift 5 || set --
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "$top"/data/traces/*.trace
moetier=$build/tools/moetier
[ -x "$moetier" ] || { echo "real_routing.sh: no $moetier (build first)" >&2; exit 1; }
dir=${RR_DIR:-/var/tmp/moetier-rr}
mkdir -p "$dir"
# RR_CONFIGS / RR_EXTRA pick a subset (capped must stay: the bound needs it)
configs=${RR_CONFIGS:-uncapped capped moetier pin}
extra=${RR_EXTRA-fetch:MOETIER_SAMPLER=fault exact:MOETIER_READ_ROOM=off,MOETIER_DRAM=1M lru:MOETIER_POLICY=lru}
all="$configs $(for x in $extra; do printf '%s ' "${x%%:*}"; done)"

median() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for trace in "$@"; do
    name=$(basename "$trace" .trace)
    grid=$(awk '/^#/ { next } { n = split($1, a, ","); print NF "x" n; exit }' "$trace")
    experts=$(sed -n 's/^#.* experts=\([0-9]*\).*/\1/p' "$trace" | head -n 1)
    [ -n "$experts" ] || { echo "real_routing.sh: $trace: no experts=N in its header" >&2; exit 1; }
    model=$dir/model-$(echo "$grid" | cut -dx -f1)x${experts}x$(echo "$grid" | cut -dx -f2)-$size.gguf
    if [ ! -s "$model" ]; then
        echo "[$name] generating $model ($size, the grid of $trace) ..."
        "$moetier" mkmoe "$model.tmp" --size "$size" --routing "$trace" --type q8_0 -q
        mv "$model.tmp" "$model"
    fi
    keep=$dir/$name
    rm -rf "$keep"
    echo "[$name] $tokens tokens, $reps rounds, cap $cap ($(date -u +%H:%M:%S))"
    CAPPED_MODEL=$model CAPPED_ROUTE=$trace CAPPED_FIT=0 CAPPED_CONFIGS="$configs" CAPPED_EXTRA="$extra" \
        CAPPED_KEEP=$keep "$top/tests/bench/capped.sh" "$build" "$size" "$cap" "$tokens" "$reps" > "$dir/$name.log" 2>&1 ||
        { tail -n 20 "$dir/$name.log"; exit 1; }
    # the bound: belady with the page cache the cap left plain llama.cpp
    cache=$(median < "$keep/capped.cache")
    nexp=$(echo "$grid" | cut -dx -f1)
    pairs=$((nexp * experts))
    total=$("$moetier" inspect --json "$model" | sed -n 's/.*"expert_bytes_total":\([0-9]*\).*/\1/p')
    ebytes=$((total / pairs))
    share=$(awk -v c="$cache" -v e="$ebytes" -v p="$pairs" 'BEGIN { s = c / e / p; if (s > 1) s = 1; printf "%.4f", s }')
    bound() { # POLICY: bytes per token of POLICY at the share over the feed's rows
        awk -v n="$tokens" '/^#/ { print; next } { if (++i > n) exit; print }' "$trace" > "$dir/$name.rows.trace"
        "$moetier" replay "$dir/$name.rows.trace" --policy "$1" --cache "$share" --expert-size "$ebytes" --json |
            sed -n 's/.*"slow_bytes_per_token":\([0-9.e+]*\).*/\1/p'
    }
    belady=$(bound belady)
    lru=$(bound lru)
    # the second half alone (tokens n/2..n-1, the cache warm): replay's
    # second-half hit rate x the pairs a token reads (no prefetch in either)
    bound2() {
        "$moetier" replay "$dir/$name.rows.trace" --policy "$1" --cache "$share" --expert-size "$ebytes" --json |
            sed -n 's/.*"hit_rate_second_half":\([0-9.e+-]*\).*/\1/p' |
            awk -v p="$(echo "$grid" | cut -dx -f1)" -v k="$(echo "$grid" | cut -dx -f2)" -v e="$ebytes" \
                '{ printf "%.0f", (1 - $1) * p * k * e }'
    }
    belady2=$(bound2 belady)
    lru2=$(bound2 lru)
    {
        echo
        echo "## $name ($grid, $(du -hL "$model" | cut -f1) model, cap $cap, $tokens tokens, $reps rounds)"
        grep -E "^(machine|model|moetier default|page cache left)" "$dir/$name.log" || true
        echo "belady bound: a cache of the page cache plain left ($cache bytes = $share of $pairs experts of $ebytes bytes):" \
            "$(awk -v b="$belady" 'BEGIN { printf "%.2f MiB/token", b / 1048576 }'); replay lru at that cache:" \
            "$(awk -v b="$lru" 'BEGIN { printf "%.2f MiB/token", b / 1048576 }')"
        echo "second half (tokens $((tokens / 2))-$((tokens - 1)), warm): belady" \
            "$(awk -v b="$belady2" 'BEGIN { printf "%.2f MiB/token", b / 1048576 }'), replay lru" \
            "$(awk -v b="$lru2" 'BEGIN { printf "%.2f MiB/token", b / 1048576 }')"
        printf '%-9s %-22s %9s %-24s %7s %-22s %7s\n' config "feed tok/s (range)" "/capped" "feed MiB/token (range)" \
            "/belady" "2nd half MiB/token" "/belady"
        for c in $all; do
            [ -f "$keep/$c.time" ] || continue
            line=$(awk -v c="$c" '$1 == c && $3 ~ /^\(/' "$dir/$name.log" | head -n 1)
            rate=$(echo "$line" | awk '{ print $2, $3 }')
            vs=$(echo "$line" | awk '{ print $5 }')
            per=$(median < "$keep/$c.feedio" | awk -v t="$tokens" '{ printf "%.2f", $1 / t / 1048576 }')
            span=$(sort -g "$keep/$c.feedio" | awk -v t="$tokens" 'NR == 1 { lo = $1 } { hi = $1 }
                END { printf "%.1f-%.1f", lo / t / 1048576, hi / t / 1048576 }')
            rel=$(awk -v p="$per" -v b="$belady" 'BEGIN { if (b > 0) printf "%.2f", p * 1048576 / b; else print "-" }')
            half=$((tokens - tokens / 2))
            per2=$(median < "$keep/$c.feedio2" | awk -v t="$half" '{ printf "%.2f", $1 / t / 1048576 }')
            span2=$(sort -g "$keep/$c.feedio2" | awk -v t="$half" 'NR == 1 { lo = $1 } { hi = $1 }
                END { printf "%.1f-%.1f", lo / t / 1048576, hi / t / 1048576 }')
            rel2=$(awk -v p="$per2" -v b="$belady2" 'BEGIN { if (b > 0) printf "%.2f", p * 1048576 / b; else print "-" }')
            printf '%-9s %-22s %9s %8s (%s) %7s %8s (%s) %7s\n' "$c" "$rate" "$vs" "$per" "$span" "$rel" "$per2" "$span2" \
                "$rel2"
        done
        grep "tokens identical" "$dir/$name.log" | sed 's/.*\(tokens identical.*\)/\1/'
    } | tee -a "$dir/summary.txt"
done
