#!/bin/sh
# Benchmark (not a test; make check never runs it): moetier's migration engine
# on the file tier when the model does not fit in the memory a cgroup allows.
#
#   tests/bench/capped.sh [BUILD_DIR] [SIZE] [CAP] [TOKENS] [REPS]
#
# Needs root and the cgroup v1 memory controller (/sys/fs/cgroup/memory), no
# swap, fincore (util-linux) and GNU time (/usr/bin/time). Generates a
# skew-shaped q8_0 model of SIZE (default 1.6G; llama.cpp keeps q8_0 experts in
# the file mapping, CPU_Mapped, checked with the driver's --buffers), makes a
# cgroup capped at CAP (default 800M, about half the model; removed on exit),
# records a profile with an uncapped moetier run on held-out text (the part of
# data/text/varied.txt after its first 4 KiB; MOETIER_SAMPLE_BUDGET=10%), then
# runs REPS rounds (default 3), each configuration once per round in a rotating
# order, of the real llama.cpp driver (its default threads: every online core)
# fed TOKENS tokens (default 60)
# of data/text/varied.txt one at a time, then 8 generated:
#   uncapped  plain, no cgroup, page cache warm (the ceiling)
#   capped    plain, in the cgroup
#   moetier   the preload, defaults (budget: the default share of the cgroup
#             limit, clamped), no profile
#   warm      the preload, warm start from a copy of the recorded profile
#   pin       static pinning: tests/bench/pin_hot.la mlocks the hottest third
#             of the experts (by the profile's hits), nothing moves afterwards
# plus CAPPED_EXTRA, a space-separated list of NAME:VAR=VALUE,VAR=VALUE extra
# configurations in the cgroup: moetier's preload with MOETIER_PROFILE=off and
# these variables on top (@prof: a fresh copy of the recorded profile; @lib,
# @pin: moetier's and pin_hot's preloads, for LD_PRELOAD), e.g.
#   CAPPED_EXTRA="lfu:MOETIER_POLICY=lfu static:MOETIER_POLICY=static,MOETIER_PROFILE=@prof"
#   CAPPED_EXTRA="ra8m:LD_PRELOAD=@pin,PIN_HOT_FADVISE=normal"  (plain, 8 MiB read-around)
# CAPPED_ROUTE=FILE.trace passes --route FILE.trace to every driver run: the
# real llama.cpp computes that trace's experts (docs/driver.md) instead of the
# generated router's. CAPPED_THREADS=N passes -t N (default: every core).
# CAPPED_CONFIGS replaces the list of the five above (uncapped and capped must
# stay: the ratios need them). REPS=0 skips the capped rounds (the overhead
# part still runs).
# Before EVERY run the model file's page cache is dropped (dd iflag=nocache,
# checked with fincore: pages an earlier run left cached, charged to another
# cgroup, would make a capped run look fast); the uncapped run then reads the
# file once to warm it. Ratios are medians over rounds of (configuration /
# reference of the same round). Tokens must be identical in every run (moetier
# keeps byte identity; exit 1 otherwise).
# Afterwards (CAPPED_FIT=0 skips): the overhead when everything fits (plain vs
# moetier with its defaults and with MOETIER_DRAM twice the model, uncapped,
# warm, FIT_TOKENS tokens, default 300, FIT_REPS rounds, default REPS or 3;
# FIT_EXTRA adds NAME:VAR=VALUE,... moetier configurations as CAPPED_EXTRA
# does, where @big is twice the model's size in bytes) and
# promote_bw (promotion throughput vs memcpy).
# Columns: medians over rounds; majflt and read MiB (disk reads, ru_inblock)
# per run from GNU time; peak MiB: the cgroup's memory.max_usage_in_bytes;
# promotions/demotions: moetier's exit line, one entry per run (ranges: an
# expert is 3 of them). CAPPED_MODEL=FILE reuses a model made by the same
# mkmoe command (not deleted). Results go in docs/bench-capped.md; logs stay
# in $CAPPED_KEEP if set.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
size=${2:-1.6G}
cap=${3:-800M}
tokens=${4:-60}
reps=${5:-3}
gen=8
prof_tokens=${PROF_TOKENS:-1000}
fit_tokens=${FIT_TOKENS:-300}
build=$(cd "$build" && pwd) || exit 1
moetier=$build/tools/moetier
driver=$build/tests/bin/llama_driver
lib=$build/shim/.libs/libmoetier.so
pinlib=$build/tests/bench/.libs/pin_hot.so
promote_bw=$build/tests/bench/promote_bw
text=$top/data/text/varied.txt
counts=$top/data/traces/olmoe_counts_c4.counts
export LLAMA_LIBDIR=${LLAMA_LIBDIR:-$top/deps/llama/lib}

die() { echo "capped.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (a cgroup, dropping the page cache, mlock)"
[ -d /sys/fs/cgroup/memory ] || die "no cgroup v1 memory controller at /sys/fs/cgroup/memory"
command -v fincore > /dev/null || die "needs fincore (util-linux)"
[ -x /usr/bin/time ] || die "needs GNU time (/usr/bin/time)"
for f in "$moetier" "$driver" "$lib"; do
    [ -e "$f" ] || die "missing $f: build first (make -C BUILD_DIR; make -C BUILD_DIR check TESTS= for tests/bin)"
done
make -s -C "$build" bench > /dev/null || die "make bench failed"
[ -e "$pinlib" ] && [ -x "$promote_bw" ] || die "make bench did not build $pinlib and $promote_bw"

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/moetier-capped.XXXXXX") || exit 1
[ "$(stat -f -c %T "$tmp")" != tmpfs ] || die "$tmp is on tmpfs: the model must be on a disk file system (TMPDIR)"
cg=/sys/fs/cgroup/memory/moetier-capped.$$
cleanup() {
    if [ -d "$cg" ]; then
        echo 0 > "$cg/memory.force_empty" 2> /dev/null
        rmdir "$cg" 2> /dev/null || echo "capped.sh: could not remove $cg" >&2
    fi
    if [ -n "${CAPPED_KEEP:-}" ]; then
        mkdir -p "$CAPPED_KEEP" && cp "$tmp"/*.err "$tmp"/*.log "$tmp"/*.prof "$tmp"/*.time "$tmp"/*.rates "$tmp"/*.peak "$tmp"/*.feedio "$tmp"/*.feedio2 \
            "$tmp"/*.cache "$tmp"/*.active "$CAPPED_KEEP"/ 2> /dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir "$cg" || die "cannot create $cg"
echo "$cap" > "$cg/memory.limit_in_bytes" || die "cannot set $cg/memory.limit_in_bytes to $cap"

if [ -n "${CAPPED_MODEL:-}" ]; then
    model=$CAPPED_MODEL
    [ -f "$model" ] || die "CAPPED_MODEL=$model: no such file"
    [ "$(stat -f -c %T "$model")" != tmpfs ] || die "$model is on tmpfs: the model must be on a disk file system"
    echo "model: $model (CAPPED_MODEL; SIZE ignored)"
else
    model=$tmp/capped.gguf
    echo "generating a $size q8_0 model (olmoe c4 shape) ..."
    "$moetier" mkmoe "$model" --size "$size" --routing "$counts" --type q8_0 -q || die "mkmoe failed"
fi
tail -c +4097 "$text" > "$tmp/heldout.txt"

cached() { fincore --bytes --noheadings -o RES "$model" | tr -d ' '; }
drop() { # drop the model's page cache and check that it went
    dd if="$model" iflag=nocache count=0 status=none
    left=$(cached)
    if [ "${left:-0}" -gt $((1 << 20)) ]; then
        sync
        dd if="$model" iflag=nocache count=0 status=none
        left=$(cached)
        [ "${left:-0}" -gt $((1 << 20)) ] && die "cannot drop the page cache of $model ($left bytes stay cached)"
    fi
    echo "$left" >> "$tmp/dropped.log"
}

# where llama.cpp puts the experts: they must stay in the file mapping
drv_opts=
"$driver" --quiet -m "$model" --feed "$text" --feed-max 2 -n 1 --buffers > "$tmp/buffers.out" 2> /dev/null ||
    die "the driver cannot run the model"
if ! grep -q '^expert_buffers: q8_0=CPU_Mapped$' "$tmp/buffers.out"; then
    drv_opts=--no-repack
    "$driver" --quiet -m "$model" --feed "$text" --feed-max 2 -n 1 --buffers $drv_opts > "$tmp/buffers.out" 2> /dev/null
    grep -q '^expert_buffers: q8_0=CPU_Mapped$' "$tmp/buffers.out" ||
        die "experts are not in the file mapping: $(grep expert_buffers "$tmp/buffers.out")"
fi
echo "experts: $(sed -n 's/^expert_buffers: //p' "$tmp/buffers.out") ${drv_opts:+($drv_opts)}"
# CAPPED_ROUTE: every later run computes a real model's routing (the driver's
# --route) instead of the generated router's, so runs can be set against a
# replay of the same trace (tests/bench/sim_validate.sh)
if [ -n "${CAPPED_ROUTE:-}" ]; then
    [ -r "$CAPPED_ROUTE" ] || die "cannot read CAPPED_ROUTE $CAPPED_ROUTE"
    case $CAPPED_ROUTE in *[[:space:]]*) die "CAPPED_ROUTE must not contain blanks" ;; esac
    drv_opts="$drv_opts --route $CAPPED_ROUTE"
    echo "routing: injected from $CAPPED_ROUTE"
fi
# CAPPED_THREADS=N: the driver's -t for every run (default: every online core).
# On a machine another job shares, ggml's spinning barriers with a thread per
# core make every decode wait for a descheduled thread: fewer threads keep
# the runs' speed the machine's and not the scheduler's
if [ -n "${CAPPED_THREADS:-}" ]; then
    drv_opts="$drv_opts -t $CAPPED_THREADS"
    echo "threads: $CAPPED_THREADS"
fi

# the profile: an uncapped moetier run on held-out text
drop
cat "$model" > /dev/null
echo "recording a profile: $prof_tokens held-out tokens, uncapped ..."
env LD_PRELOAD="$lib" MOETIER_LOG=info MOETIER_PROFILE="$tmp/warm.prof" MOETIER_SAMPLE_BUDGET=10% \
    MOETIER_STATS_DIR="$tmp" "$driver" --quiet -m "$model" --feed "$tmp/heldout.txt" --feed-max "$prof_tokens" \
    -n 1 $drv_opts > /dev/null 2> "$tmp/profile.err" || die "profile run failed: $(tail -n 3 "$tmp/profile.err")"
[ -s "$tmp/warm.prof" ] || die "the profile run saved no profile"
"$moetier" profile show "$tmp/warm.prof" --json > "$tmp/prof.json" || die "cannot read the recorded profile"
sed -n 's/.*info: \(sampled .*\)/profile: \1/p' "$tmp/profile.err"

# true routing of the measured feed (uncapped, no preload), to see what a
# hot set can cover at best
drop
cat "$model" > /dev/null
"$driver" --quiet -m "$model" --feed "$text" --feed-max "$tokens" -n 1 $drv_opts --routing-out "$tmp/feed.trace" \
    --routing-phase feed > /dev/null 2> "$tmp/routing.err" || die "routing run failed"

pin_share=${PIN_HOT_SHARE:-0.3333333}
run() { # run NAME CAPPED ENV...: one run, results appended to NAME.*
    name=$1 capped=$2
    shift 2
    drop
    [ "$capped" = 1 ] || cat "$model" > /dev/null
    [ -d "$cg" ] && echo 0 > "$cg/memory.max_usage_in_bytes" 2> /dev/null
    e=$tmp/$name.err
    enter=
    [ "$capped" = 1 ] && enter="echo \$\$ > $cg/cgroup.procs;"
    # $1..: env assignments; the shell inside enters the cgroup, raises the
    # lock limit, then execs GNU time, which runs the driver
    sh -c "$enter ulimit -l unlimited; exec \"\$@\"" sh \
        /usr/bin/time -o "$tmp/$name.time.tmp" -f "%F %R %e %M %I" env "$@" \
        "$driver" --quiet -m "$model" --feed "$text" --feed-max "$tokens" -n $gen $drv_opts \
        > "$tmp/$name.out.tmp" 2> "$e.tmp" || { tail -n 5 "$e.tmp"; die "$name: the driver failed"; }
    cat "$e.tmp" >> "$e"
    sed -n 's/^feed_tok_per_s: //p' "$e.tmp" >> "$tmp/$name.rates"
    sed -n 's/^gen_tok_per_s: //p' "$e.tmp" >> "$tmp/$name.gen"
    sed -n 's/^feed_read_bytes: //p' "$e.tmp" >> "$tmp/$name.feedio"
    sed -n 's/^feed_read_bytes_second_half: //p' "$e.tmp" >> "$tmp/$name.feedio2"
    cat "$tmp/$name.time.tmp" >> "$tmp/$name.time"
    [ "$capped" = 1 ] && cat "$cg/memory.max_usage_in_bytes" >> "$tmp/$name.peak"
    # the page cache the run left charged to the cgroup (it outlives the
    # process): what the cap left the model's pages once llama.cpp's own
    # memory was taken, the cache a replay of the run should be given
    [ "$capped" = 1 ] && sed -n 's/^cache //p' "$cg/memory.stat" >> "$tmp/$name.cache"
    # and how much of it the kernel keeps on its active list (sim's plain row models it)
    [ "$capped" = 1 ] && sed -n 's/^active_file //p' "$cg/memory.stat" >> "$tmp/$name.active"
    sed -n 's/.*info: tiering: \([0-9]*\) promotions (\([^)]*\)), \([0-9]*\) demotions.*/\1 \3 \2/p' "$e.tmp" \
        | sed 's/ /\t/; s/ /\t/' >> "$tmp/$name.mig"
    grep '^tokens:' "$tmp/$name.out.tmp" >> "$tmp/$name.tokens"
    printf '  %-10s %8s tok/s feed, %8s gen, %s\n' "$name" "$(sed -n 's/^feed_tok_per_s: //p' "$e.tmp")" \
        "$(sed -n 's/^gen_tok_per_s: //p' "$e.tmp")" "$(cut -d' ' -f1,3 "$tmp/$name.time.tmp" |
        awk '{ printf "%s major faults, %s s", $1, $2 }')"
}
common="MOETIER_LOG=info MOETIER_STATS_DIR=$tmp"
# an extra configuration's VAR=VALUE,... list as words: @prof is a fresh copy
# of the recorded profile, @lib moetier's preload, @pin the pin_hot preload
expand() { echo "$1" | tr ',' ' ' | sed "s|@prof|$tmp/run.prof|g; s|@lib|$lib|g; s|@pin|$pinlib|g"; }
one() {
    case $1 in
    uncapped) run uncapped 0 ;;
    capped) run capped 1 ;;
    moetier) run moetier 1 LD_PRELOAD="$lib" $common MOETIER_PROFILE=off ;;
    warm)
        cp "$tmp/warm.prof" "$tmp/run.prof"
        run warm 1 LD_PRELOAD="$lib" $common MOETIER_PROFILE="$tmp/run.prof" ;;
    pin) run pin 1 LD_PRELOAD="$pinlib" PIN_HOT_PROFILE="$tmp/warm.prof" PIN_HOT_SHARE="$pin_share" ;;
    *)
        spec=
        for x in ${CAPPED_EXTRA:-}; do
            [ "${x%%:*}" = "$1" ] && spec=${x#*:}
        done
        cp "$tmp/warm.prof" "$tmp/run.prof"
        # shellcheck disable=SC2046
        run "$1" 1 LD_PRELOAD="$lib" $common MOETIER_PROFILE=off $(expand "$spec") ;;
    esac
}

# rotated I WORD...: the words, rotated left by I modulo their count (round I's order)
rotated() {
    r=$(($1 % ($# - 1)))
    shift
    while [ $r -gt 0 ]; do
        set -- "$@" "$1"
        shift
        r=$((r - 1))
    done
    echo "$@"
}

# medians, ranges and ratios over rounds (the capped table and the overhead part)
median() { sort -g "$1" | awk '{ a[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
ratio() { paste "$tmp/$1.rates" "$tmp/$2.rates" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }' > "$tmp/r.tmp"; median "$tmp/r.tmp"; }

if [ "$reps" -gt 0 ]; then
configs=${CAPPED_CONFIGS:-uncapped capped moetier warm pin}
for need in uncapped capped; do
    case " $configs " in *" $need "*) ;; *) die "CAPPED_CONFIGS needs uncapped and capped" ;; esac
done
for x in ${CAPPED_EXTRA:-}; do
    configs="$configs ${x%%:*}"
done
echo "cap $cap, $tokens fed tokens + $gen generated, $reps rounds of: $configs"
i=0
while [ $i -lt "$reps" ]; do
    set -- $(rotated $i $configs)
    echo "round $((i + 1)): $*"
    for c in "$@"; do
        one "$c"
    done
    i=$((i + 1))
done


ref_tokens=$(head -n 1 "$tmp/uncapped.tokens")
identical=yes
for c in $configs; do
    if [ "$(sort -u "$tmp/$c.tokens")" != "$ref_tokens" ]; then
        identical=no
        echo "$c: generated tokens differ from the uncapped run's: $(sort -u "$tmp/$c.tokens" | tr '\n' '|')" >&2
    fi
done

echo
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, kernel $(uname -r)"
echo "model: $(du -h "$model" | cut -f1) q8_0, $(sed -n 's/.*info: model .*: \([0-9]* MoE layers x [0-9]* experts\).*/\1/p' "$tmp/profile.err" | head -n 1); cap $cap; $tokens fed tokens; $reps rounds"
[ -f "$tmp/moetier.err" ] && sed -n 's/.*warn: \(DRAM budget .* clamped to [^:]*\):.*/moetier default: \1/p' "$tmp/moetier.err" | head -n 1
[ -f "$tmp/moetier.err" ] && sed -n 's/.*info: \(tiering: file tier, DRAM budget .*\)/moetier default: \1/p' "$tmp/moetier.err" | head -n 1
[ -f "$tmp/moetier.err" ] && sed -n 's/.*info: \(sampler: [a-z]*, .*\)/moetier default \1/p' "$tmp/moetier.err" | tail -n 1
[ -f "$tmp/warm.err" ] && sed -n 's/.*info: \(warm start from the profile: .*\)/warm: \1/p' "$tmp/warm.err" | head -n 1
[ -f "$tmp/pin.err" ] && sed -n 's/^pin_hot\[[0-9]*\]: [^:]*: /pin: /p' "$tmp/pin.err" | head -n 1
echo "page cache left after each drop: at most $(sort -g "$tmp/dropped.log" | tail -n 1) bytes; tokens identical in every run: $identical"
printf '\n%-10s %-18s %8s %10s %10s %9s %9s %9s %-26s\n' configuration "feed tok/s (range)" "gen" "/capped" "/uncapped" \
    "majflt" "read MiB" "peak MiB" "promotions/demotions (bytes)"
for c in $configs; do
    mig=-
    [ -s "$tmp/$c.mig" ] && mig=$(awk -F'\t' '{ print $1 "/" $2 " (" $3 ")" }' "$tmp/$c.mig" | tr '\n' ' ')
    cut -d' ' -f1 "$tmp/$c.time" > "$tmp/f.tmp"
    peak=-
    [ -s "$tmp/$c.peak" ] && { awk '{ printf "%.0f\n", $1 / 1048576 }' "$tmp/$c.peak" > "$tmp/p.tmp"; peak=$(median "$tmp/p.tmp"); }
    awk '{ printf "%.0f\n", $5 * 512 / 1048576 }' "$tmp/$c.time" > "$tmp/i.tmp"
    printf '%-10s %-18s %8s %10.3f %10.4f %9s %9s %9s %s\n' "$c" "$(median "$tmp/$c.rates") ($(range "$tmp/$c.rates"))" \
        "$(median "$tmp/$c.gen")" "$(ratio "$c" capped)" "$(ratio "$c" uncapped)" "$(median "$tmp/f.tmp")" \
        "$(median "$tmp/i.tmp")" "$peak" "$mig"
done

# what a fixed hot set can cover: the share of the measured feed's expert
# uses that fall on the hottest K slots, ranked by the profile (held-out
# text) and by the feed itself (an oracle)
awk -v E="$(sed -n 's/.*"n_experts":\([0-9]*\).*/\1/p' "$tmp/prof.json")" -v json="$tmp/prof.json" '
BEGIN {
    getline j < json
    n = split(j, parts, "\"layer\":")
    for (i = 2; i <= n; i++) {
        split(parts[i], f, /[,:}]/)  # layer, "expert", e, "hits", h
        slot = f[1] * E + f[3]
        prof[slot] = f[5]
    }
}
/^#/ { next }
{
    for (l = 1; l <= NF; l++) {
        m = split($l, ids, ",")
        for (k = 1; k <= m; k++) { use[(l - 1) * E + ids[k]]++; total++ }
    }
    layers = NF
}
function share(K, by,    s, i, j, best, sum, taken) {
    sum = 0
    for (i = 0; i < K; i++) {
        best = -1
        for (s = 0; s < layers * E; s++)
            if (!(s in taken) && (best < 0 || (by == "p" ? prof[s] + 0 > prof[best] + 0 : use[s] + 0 > use[best] + 0)))
                best = s
        taken[best] = 1
        sum += use[best]
    }
    return 100 * sum / total
}
END {
    N = layers * E
    printf "\nshare of the fed tokens'"'"' expert uses on the hottest K of %d experts (uniform would be K/%d):\n", N, N
    printf "%6s %14s %12s\n", "K", "by profile", "by oracle"
    for (q = 1; q <= 4; q++) {
        K = int(N * q / 6 + 0.5)
        printf "%6d %13.1f%% %11.1f%%\n", K, share(K, "p"), share(K, "o")
    }
}' "$tmp/feed.trace"
else
    identical=yes
fi

if [ "${CAPPED_FIT:-1}" != 0 ]; then
    echo
    fit_reps=${FIT_REPS:-$reps}
    [ "$fit_reps" -gt 0 ] || fit_reps=3
    echo "overhead when everything fits: uncapped, page cache warm, $fit_tokens tokens, $fit_reps rounds"
    big=$(($(stat -c %s "$model") * 2))
    fits="fit_plain fit_default fit_moetier"
    for x in ${FIT_EXTRA:-}; do
        fits="$fits ${x%%:*}"
    done
    i=0
    while [ $i -lt "$fit_reps" ]; do
        set -- $(rotated $i $fits)
        for c in "$@"; do
            drop
            cat "$model" > /dev/null
            cp "$tmp/warm.prof" "$tmp/run.prof"
            envs="LD_PRELOAD=$lib $common MOETIER_PROFILE=off"
            [ $c = fit_plain ] && envs=
            [ $c = fit_moetier ] && envs="$envs MOETIER_DRAM=$big"
            for x in ${FIT_EXTRA:-}; do
                [ "${x%%:*}" = "$c" ] && envs="$envs $(expand "${x#*:}" | sed "s|@big|$big|g")"
            done
            env $envs "$driver" --quiet -m "$model" --feed "$text" --feed-max "$fit_tokens" -n $gen $drv_opts \
                > /dev/null 2> "$tmp/$c.err.tmp" || die "$c failed"
            cat "$tmp/$c.err.tmp" >> "$tmp/$c.err"
            sed -n 's/^feed_tok_per_s: //p' "$tmp/$c.err.tmp" >> "$tmp/$c.rates"
        done
        i=$((i + 1))
    done
    printf '%-14s %-22s %8s  %s\n' configuration "feed tok/s (range)" ratio "moetier's lines (runs)"
    for c in $fits; do
        printf '%-14s %-22s %8.3f\n' "$c" "$(median "$tmp/$c.rates") ($(range "$tmp/$c.rates"))" "$(ratio $c fit_plain)"
        [ $c = fit_plain ] || sed -n 's/.*info: \(sampler: [a-z]*\),.*/\1/p; s/.*info: \(DRAM budget 0\).*/\1/p;
            s/.*info: tiering: \([0-9]* promotions ([^)]*)\).*/tiering: \1/p' "$tmp/$c.err" |
            sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/    \2 (x\1)/'
    done
    echo "(fit_default: moetier's defaults; fit_moetier: MOETIER_DRAM=$(($big >> 20))M, twice the model; no profile)"
    echo
    echo "promotion throughput (tests/bench/promote_bw, ranges of one expert part of this model):"
    chunk=$("$moetier" inspect "$model" --json | grep -o '"ranges":\[\[[0-9]*,[0-9]*\]' | head -n 1 |
        sed 's/.*,//; s/]//' | awk '{ c = int($1 / 4096) * 4096; print (c > 0 ? c : 8388608) }')
    "$promote_bw" --mib 512 --chunk "$chunk" --reps 5 --dir "$tmp"
fi
[ $identical = yes ]
