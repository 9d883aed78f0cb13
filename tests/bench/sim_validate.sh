#!/bin/sh
# Benchmark (not a test; make check never runs it): issue 13's validation.
# Does `moetier sim --hw this` predict what plain llama.cpp and moetier measure
# here, under a memory cap, with a real model's routing? (docs/sim.md)
#
#   tests/bench/sim_validate.sh [BUILD_DIR] [TRACE] [SIZE] [CAP] [TOKENS] [REPS]
#
# Defaults: build, data/traces/deepseekv2lite_esft_law.trace, 800M (a 674 MiB file,
# 663 MiB of experts), 350M, 80, 3.
# Needs what tests/bench/capped.sh needs (root, the cgroup v1 memory
# controller, fincore, GNU time), which runs the measured part:
#  1. `moetier mkmoe --routing TRACE --size SIZE --type q8_0`: a model of the
#     trace's grid (layers x experts, top-k), so the trace's ids are its experts;
#     SIZE makes the experts several times CAP. VAL_MODEL=FILE reuses one.
#  2. `moetier bench --short --file MODEL`: this machine's profile, the model's
#     own disk for the cold reads.
#  3. capped.sh with CAPPED_ROUTE=TRACE (the driver's --route: the real
#     llama.cpp computes the trace's experts), configurations uncapped, capped
#     (plain) and moetier (defaults), REPS rounds rotated, page cache dropped
#     before each run, the driver's default threads (every core; CAPPED_THREADS
#     =N passes -t N, and sim's CPU ceiling takes N/cores of the profile's). Twice: with
#     TOKENS fed tokens and with 2, so the load's reads (llama.cpp's prefetch
#     of the mapping) cancel: bytes per decoded token = (reads(TOKENS) -
#     reads(2)) / (TOKENS - 2).
#  4. `moetier sim` on the trace's first TOKENS + 8 rows (the rows the runs
#     decoded), --hw this with that profile, --expert-size and --dense-bytes of
#     the model, for two caches: moetier's DRAM budget (its log) and the page
#     cache the cap left each configuration (the cgroup's cache after each
#     capped run, median). VAL_READAROUND=BYTES (default: 2 x read_ahead_kb of
#     the model's disk, the window of an mmap fault under llama.cpp's
#     FADV_SEQUENTIAL) is passed as --read-around for plain.
# Which row is which run, by mechanism (docs/sim.md, chosen before measuring):
#   plain    = lru with --read-around at the page cache the cap left: every
#              fault reads the kernel's window; the page cache is the
#              kernel's two lists after llama.cpp's MAP_POPULATE load
#              (--page-cache kernel, the default; --page-cache lru, one LRU
#              list, is printed beside it), and reclaim and the mapping
#              faults are charged from the profile (docs/sim.md). The
#              kernel's active list after each plain run (the cgroup's
#              active_file) is printed beside the sim's.
#   moetier  = the policy (auto) without read-around at the read room's size
#              (its exit line): the exact reads read each expert whole and
#              nothing else, and the room is a demand cache of whole experts
#              under that policy. Builds without the room: lru without
#              read-around at the page cache the cap left.
# The rows issue 13 names are printed too: the policy (auto) and hot-static
# (the ideal of the runtime's `hot`) at moetier's budget, lru at the budget.
# Prints measured (median, range over rounds) beside predicted, with the
# ratio predicted / measured, for tok/s (the feed's, one token per decode)
# and disk bytes per decoded token; then the mechanism rows again with the
# CPU's rate calibrated on the uncapped runs (ggml's kernels on this model, all
# cached: the profile's dot loop is not ggml). Logs stay in VAL_KEEP if set.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
trace=${2:-$top/data/traces/deepseekv2lite_esft_law.trace}
size=${3:-800M}
cap=${4:-350M}
tokens=${5:-80}
reps=${6:-3}
gen=8 # capped.sh generates 8 after the feed
build=$(cd "$build" && pwd) || exit 1
moetier=$build/tools/moetier
die() { echo "sim_validate.sh: $*" >&2; exit 1; }
[ -x "$moetier" ] || die "missing $moetier: build first"
[ -r "$trace" ] || die "cannot read $trace"
trace=$(cd "$(dirname "$trace")" && pwd)/$(basename "$trace")
[ "$tokens" -gt 2 ] || die "TOKENS must be over 2"

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/moetier-simval.XXXXXX") || exit 1
cleanup() {
    [ -n "${VAL_KEEP:-}" ] && mkdir -p "$VAL_KEEP" && cp -r "$tmp"/long "$tmp"/short "$tmp"/*.json "$tmp"/*.out \
        "$VAL_KEEP"/ 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "load: $(uptime)"
if [ -n "${VAL_MODEL:-}" ]; then
    model=$VAL_MODEL
    echo "model: $model (VAL_MODEL)"
else
    model=$tmp/model.gguf
    echo "generating a $size q8_0 model of $(basename "$trace")'s grid ..."
    "$moetier" mkmoe "$model" --size "$size" --routing "$trace" --type q8_0 -q || die "mkmoe failed"
fi
"$moetier" inspect "$model" --json > "$tmp/inspect.json" || die "cannot inspect $model"
expert=$(grep -o '"experts":\[{[^}]*"bytes":[0-9]*' "$tmp/inspect.json" | head -n 1 | sed 's/.*"bytes"://')
dense=$(sed -n 's/.*"other_bytes_total":\([0-9]*\).*/\1/p' "$tmp/inspect.json")
[ -n "$expert" ] && [ -n "$dense" ] || die "cannot read the expert and dense bytes of $model"
echo "model: $(($(stat -c %s "$model") >> 20)) MiB; one expert $expert B; dense (everything else) $dense B; cap $cap"

# the profile, its cold reads on the model's own disk
(cd "$tmp" && "$moetier" bench --short --file "$model" --out "$tmp/machine.json") > "$tmp/bench.out" 2>&1 ||
    die "moetier bench failed: $(tail -n 3 "$tmp/bench.out")"
sed -n '/^DRAM read/p; /^int8 dot/p; /4.00 KiB pages/p; /4.00 MiB chunks/p; /^exact reads/,/^  fit/p' "$tmp/bench.out"

# the runs; the overhead part (CAPPED_FIT) and the pinning configurations are
# not what is validated
capped() { # capped TOKENS REPS KEEPDIR
    CAPPED_MODEL=$model CAPPED_ROUTE=$trace CAPPED_FIT=0 CAPPED_CONFIGS="uncapped capped moetier" PROF_TOKENS=20 \
        CAPPED_KEEP=$3 "$top/tests/bench/capped.sh" "$build" "$size" "$cap" "$1" "$2"
}
echo
echo "== runs: $tokens fed tokens, $reps rounds"
capped "$tokens" "$reps" "$tmp/long" > "$tmp/long.out" 2>&1 || { tail -n 20 "$tmp/long.out"; die "capped.sh failed"; }
sed -n '/^configuration/,/^$/p' "$tmp/long.out"
sed -n 's/^moetier default: /moetier: /p' "$tmp/long.out"
echo "== runs: 2 fed tokens (the load's reads), $reps rounds"
capped 2 "$reps" "$tmp/short" > "$tmp/short.out" 2>&1 || { tail -n 20 "$tmp/short.out"; die "capped.sh (2 tokens) failed"; }
sed -n '/^configuration/,/^$/p' "$tmp/short.out"
echo "load after the runs: $(uptime)"

median() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.4g-%.4g", lo, hi }'; }
# lo,hi (the bytes may come out negative when a run read less than the load)
lohi() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f,%.0f", lo, hi }'; }
# routed (decoded) tokens of a run, from the driver's route: line
routed() { sed -n 's/^route: .* \([0-9]*\) tokens of .*/\1/p' "$1" | head -n 1; }
n_long=$(routed "$tmp/long/capped.err")
n_short=$(routed "$tmp/short/capped.err")
[ -n "$n_long" ] && [ -n "$n_short" ] && [ "$n_long" -gt "$n_short" ] || die "no route: lines in the runs' logs"

# moetier's budget as it logged it ("DRAM budget 86.75 MiB"), in bytes
budget=$(sed -n 's/.*info: tiering: file tier, DRAM budget \([0-9.]*\) \([KMG]\)iB.*/\1 \2/p' "$tmp/long/moetier.err" |
    head -n 1 | awk '{ m = $2 == "K" ? 1024 : $2 == "M" ? 1048576 : 1073741824; printf "%.0f\n", $1 * m }')
[ -n "$budget" ] || die "moetier logged no DRAM budget"
# the read room's size (its exit line: "N of N experts of S held"), in the sim's expert bytes
rroom=$(sed -n 's/.*info: read room (policy [a-z]*): .*; \([0-9]*\) of \([0-9]*\) experts of .*/\2/p' \
    "$tmp/long/moetier.err" | median | awk -v e="$expert" '{ printf "%.0f\n", $1 * e }')
room=$(median < "$tmp/long/capped.cache")
mroom=$(median < "$tmp/long/moetier.cache")
[ "${room:-0}" -gt 0 ] && [ "${mroom:-0}" -gt 0 ] || die "no page cache recorded for the capped runs"

# the rows the runs decoded: the header, then the first n_long routes (and
# the first n_short: the sim's bytes are taken over the same tokens as the
# runs', those beyond the short runs, the same difference)
{ head -n 1 "$trace"; grep -v '^#' "$trace" | head -n "$n_long"; } > "$tmp/run.trace"
{ head -n 1 "$trace"; grep -v '^#' "$trace" | head -n "$n_short"; } > "$tmp/run_short.trace"
ra=${VAL_READAROUND:-}
if [ -z "$ra" ]; then
    dev=$(df --output=source "$model" | tail -n 1 | sed 's|^/dev/||; s|[0-9]*$||')
    kb=$(cat "/sys/block/$dev/queue/read_ahead_kb" 2> /dev/null || echo 128)
    ra=$((2 * kb * 1024))
fi
# CAPPED_THREADS=N (capped.sh: the runs' -t): the profile's dot rate is all
# cores', so the CPU ceiling is that share of it
cpu_opt=
if [ -n "${CAPPED_THREADS:-}" ]; then
    dot=$(grep -o '"cpu_dot_gbps": *[0-9.e+-]*' "$tmp/machine.json" | head -n 1 | sed 's/.*: *//')
    cores=$(grep -o '"cores": *[0-9]*' "$tmp/machine.json" | head -n 1 | sed 's/.*: *//')
    [ -n "$dot" ] && [ "${cores:-0}" -gt 0 ] || die "no cpu_dot_gbps or cores in the profile"
    cpu_opt="--cpu-gweights $(awk -v d="$dot" -v c="$cores" -v t="$CAPPED_THREADS" 'BEGIN { print d / 34 * 32 * t / c }')"
fi
sim() { # sim NAME DRAM [OPTION...]: NAME.json over the long runs' rows, NAME.s.json the short ones'
    nm=$1 d=$2
    shift 2
    set -- $cpu_opt "$@"
    for t in run run_short; do
        "$moetier" sim --trace "$tmp/$t.trace" --hw this --hw-file "$tmp/machine.json" --expert-size "$expert" \
            --dense-bytes "$dense" --quant q8_0 --dram "$d" --json "$@" > "$tmp/$nm${t#run}.json" 2>> "$tmp/sim.err" ||
            die "sim failed: $(cat "$tmp/sim.err")"
    done
    mv "$tmp/${nm}_short.json" "$tmp/$nm.s.json"
}
field() { # field ROW KEY < json
    sed 's/{"name":/\n{"name":/g' | grep "^{\"name\":\"$1\"" | sed -n "s/.*\"$2\":\"*\([^,\"}]*\).*/\1/p" | head -n 1
}
sim sim_budget "$budget"
sim sim_room "$room"
sim sim_mroom "$mroom"
[ "${rroom:-0}" -gt 0 ] && sim sim_rroom "$rroom"
policy=$(sed -n 's/.*"policy_runs":"\([^"]*\)".*/\1/p' "$tmp/sim_budget.json")
has_ra=no
if "$moetier" sim --help 2>&1 | grep -q -- --read-around; then
    has_ra=yes
    sim sim_room_ra "$room" --read-around "$ra"
    "$moetier" sim --help 2>&1 | grep -q -- --page-cache && sim sim_room_ra1 "$room" --read-around "$ra" --page-cache lru
fi

# measured, per configuration: tok/s over rounds; bytes per decoded token per
# round (that round's reads less the median load reads)
measured() { # measured CONFIG -> "tok_med tok_range bpt_med bpt_range"
    awk '{ print $5 * 512 }' "$tmp/short/$1.time" | median > "$tmp/load.tmp"
    load=$(cat "$tmp/load.tmp")
    awk -v l="$load" -v n=$((n_long - n_short)) '{ print ($5 * 512 - l) / n }' "$tmp/long/$1.time" > "$tmp/bpt.tmp"
    echo "$(median < "$tmp/long/$1.rates") $(range < "$tmp/long/$1.rates") $(median < "$tmp/bpt.tmp") $(lohi < "$tmp/bpt.tmp")"
}
set -- $(measured capped)
p_tok=$1 p_tokr=$2 p_bpt=$3 p_bptr=$4
set -- $(measured moetier)
m_tok=$1 m_tokr=$2 m_bpt=$3 m_bptr=$4

echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
echo "trace: $(basename "$trace"), rows 1-$n_long decoded per run ($((n_long - gen)) fed + $gen generated);" \
    "bytes per token over the $((n_long - n_short)) tokens beyond the 2-token runs"
echo "moetier's budget: $budget B; the page cache the cap left (median): plain $room B, moetier $mroom B;" \
    "read-around window: $ra B"
if [ -s "$tmp/long/capped.active" ] && [ $has_ra = yes ]; then
    active=$(median < "$tmp/long/capped.active")
    echo "the kernel's active list after plain's runs (median): $active B, $(awk -v a="$active" -v c="$room" \
        'BEGIN { printf "%.2f", a / c }') of the cache; the sim's: $(field lru page_cache_active_share < "$tmp/sim_room_ra.json")"
fi
echo "sim: --hw this --hw-file (this run's bench) --expert-size $expert --dense-bytes $dense --quant q8_0; policy $policy${cpu_opt:+; $cpu_opt (threads $CAPPED_THREADS)}"
echo
printf '%-34s %10s %-17s %9s %7s   %9s %-17s %9s %7s\n' "run / sim row (--dram)" "tok/s" "(range)" "sim" "ratio" \
    "MB/token" "(range)" "sim" "ratio"
row() { # row LABEL TOK TOKR BPT BPTR JSON ROW
    st=$(field "$7" tokens_per_s < "$6")
    sl=$(field "$7" slow_read < "$6")
    ss=$(field "$7" slow_read < "${6%.json}.s.json")
    awk -v l="$1" -v t="$2" -v tr="$3" -v b="$4" -v br="$5" -v st="$st" -v sl="$sl" -v ss="$ss" -v nl="$n_long" \
        -v ns="$n_short" 'BEGIN {
        sb = (sl * nl - ss * ns) / (nl - ns) # the tokens beyond the short runs, as measured
        split(br, r, ",")
        printf "%-34s %10.3f %-17s %9.3f %7.2f   %9.1f %-17s %9.1f %7.2f\n", l, t, "(" tr ")", st, (t > 0 ? st / t : 0),
            b / 1e6, sprintf("(%.1f-%.1f)", r[1] / 1e6, r[2] / 1e6), sb / 1e6, (b > 0 ? sb / b : 0) }'
}
echo "by mechanism:"
[ $has_ra = yes ] && row "plain: lru + read-around (cache)" "$p_tok" "$p_tokr" "$p_bpt" "$p_bptr" "$tmp/sim_room_ra.json" lru
[ -s "$tmp/sim_room_ra1.json" ] &&
    row "plain: the same, one LRU list" "$p_tok" "$p_tokr" "$p_bpt" "$p_bptr" "$tmp/sim_room_ra1.json" lru
# moetier's read room is a demand cache of whole experts under the policy,
# no read-around (docs/tiering.md); without one (older builds), the page cache
# the cap left it as one LRU
if [ "${rroom:-0}" -gt 0 ]; then
    row "moetier: $policy (read room)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_rroom.json" auto
else
    row "moetier: lru (cache)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_mroom.json" lru
fi
echo "the rows issue 13 names, and others:"
[ "${rroom:-0}" -gt 0 ] && row "moetier: lru (cache)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_mroom.json" lru
row "plain: lru (cache)" "$p_tok" "$p_tokr" "$p_bpt" "$p_bptr" "$tmp/sim_room.json" lru
row "plain: lru (budget)" "$p_tok" "$p_tokr" "$p_bpt" "$p_bptr" "$tmp/sim_budget.json" lru
row "moetier: $policy (budget)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_budget.json" auto
row "moetier: hot-static (budget)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_budget.json" hot-static
row "moetier: $policy (cache)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_mroom.json" auto
row "moetier: hot-static (cache)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_mroom.json" hot-static
# the same model with everything cached: uncapped against sim's CPU and DRAM
# times for a token whose experts all hit (what no tier model can fix)
u_tok=$(median < "$tmp/long/uncapped.rates")
u_tokr=$(range < "$tmp/long/uncapped.rates")
t_cpu=$(sed 's/{"name":/\n{"name":/g' "$tmp/sim_budget.json" | grep '^{"name":"lru"' | sed -n 's/.*"cpu":\([^,}]*\).*/\1/p')
dram_bw=$(sed -n 's/.*"dram_read_gbps":\([^,}]*\).*/\1/p' "$tmp/sim_budget.json")
topk=$(sed -n 's/.*"topk":\([0-9]*\).*/\1/p' "$tmp/sim_budget.json")
layers=$(sed -n 's/.*"moe_layers":\([0-9]*\).*/\1/p' "$tmp/sim_budget.json")
awk -v u="$u_tok" -v ur="$u_tokr" -v c="$t_cpu" -v bw="$dram_bw" -v e="$expert" -v d="$dense" -v k="$topk" -v l="$layers" 'BEGIN {
    t_dram = (l * k * e + d) / (bw * 1e9)
    t = c > t_dram ? c : t_dram
    printf "%-34s %10.3f %-17s %9.3f %7.2f   (sim: all hits, CPU %.1f ms, DRAM %.1f ms a token)\n", "uncapped: everything cached", u,
        "(" ur ")", 1 / t, (u > 0 ? 1 / t / u : 0), c * 1e3, t_dram * 1e3 }'
# the same rows with the CPU calibrated on this run: the rate at which uncapped
# llama.cpp computed the model (every expert cached), ggml's own kernels, in
# place of the profile's plain int8 loop (docs/sim.md: the profile's rate is
# not ggml's); the tier figures stay the profile's
cal=$(awk -v u="$u_tok" -v e="$expert" -v d="$dense" -v k="$topk" -v l="$layers" \
    'BEGIN { printf "%.4f", u * (l * k * e + d) * 32 / 34 / 1e9 }')
cpu_opt="--cpu-gweights $cal"
[ $has_ra = yes ] && sim sim_room_ra_c "$room" --read-around "$ra"
[ "${rroom:-0}" -gt 0 ] && sim sim_rroom_c "$rroom"
echo "the CPU calibrated on the uncapped runs (--cpu-gweights $cal: ggml's rate on this model, all cached):"
[ $has_ra = yes ] && row "plain: lru + read-around (cache)" "$p_tok" "$p_tokr" "$p_bpt" "$p_bptr" "$tmp/sim_room_ra_c.json" lru
[ "${rroom:-0}" -gt 0 ] && row "moetier: $policy (read room)" "$m_tok" "$m_tokr" "$m_bpt" "$m_bptr" "$tmp/sim_rroom_c.json" auto
echo "(ratio: predicted / measured; within 25%: 0.75-1.25. MB = 1e6 bytes of disk reads per token beyond the"
echo " short runs' (sim: the same difference of its replays); tok/s: the feed's (sim: over all $n_long rows);"
echo " cache: the page cache the cap left that configuration; budget: moetier's DRAM budget)"
