#!/bin/sh
# The routing the driver records through llama.cpp's eval callback has the
# model's shape: the header's layers/experts/topk match the model, one line
# per recorded token, each line one group per MoE layer, each group K
# distinct ids in [0,E). Also: each choice agrees with the router's scores
# (--check-routing), no graph ran outside the driver's decodes (no warm-up),
# and the phases select what is recorded.
. "$(dirname "$0")/../lib.sh"
need_driver
need_mkmoe
need_text

L=3 E=16 K=4 FEED=300 N=10
model=$TMP/moe.gguf
mkmodel "$model" q8_0 --layers $L --experts $E --used $K

# check_trace FILE PHASE LINES
check_trace() {
    f=$1
    head -n 1 "$f" | grep -q '^# ' || fail "$f: no header"
    hdr=$(head -n 1 "$f")
    for kv in "layers=$L" "experts=$E" "topk=$K" "source=llama_driver" "phase=$2"; do
        case " $hdr " in
            *" $kv "*) ;;
            *) fail "header lacks $kv: $hdr" ;;
        esac
    done
    n=$(($(wc -l < "$f") - 1))
    [ "$n" -eq "$3" ] || fail "phase $2: $n token lines, wanted $3"
    tail -n +2 "$f" | awk -v L=$L -v E=$E -v K=$K '
        NF != L { printf "line %d: %d groups, wanted %d\n", NR, NF, L; bad = 1; exit }
        {
            for (g = 1; g <= NF; g++) {
                n = split($g, id, ",")
                if (n != K) { printf "line %d group %d: %d ids\n", NR, g, n; bad = 1; exit }
                delete seen
                for (i = 1; i <= n; i++) {
                    if (id[i] !~ /^[0-9]+$/ || id[i] + 0 >= E) {
                        printf "line %d group %d: bad id %s\n", NR, g, id[i]; bad = 1; exit
                    }
                    if (id[i] in seen) { printf "line %d group %d: repeated id\n", NR, g; bad = 1; exit }
                    seen[id[i]] = 1
                    used[g, id[i]] = 1
                }
            }
        }
        END {
            if (bad) exit 1
            # varied text reaches many experts: at least half of them per layer
            for (g = 1; g <= L; g++) {
                c = 0
                for (e = 0; e < E; e++) if ((g, e) in used) c++
                if (NR >= 100 && c < E / 2) { printf "layer %d: only %d experts used\n", g, c; exit 1 }
            }
        }' || fail "$f: malformed trace"
}

# 1. the feed only, checked against the router's own scores
drive "$TMP/feed" -m "$model" -n $N --feed "$TEXT" --feed-max $FEED \
    --routing-out "$TMP/feed.trace" --routing-phase feed --check-routing
[ "$(field "$TMP/feed.err" feed_tokens)" -eq $FEED ] || fail "fed $(field "$TMP/feed.err" feed_tokens) tokens, wanted $FEED"
check_trace "$TMP/feed.trace" feed $FEED
[ "$(field "$TMP/feed.err" routing_checked)" -eq $((FEED * L)) ] ||
    fail "routing_checked $(field "$TMP/feed.err" routing_checked), wanted $((FEED * L))"
[ "$(field "$TMP/feed.err" graph_nodes_outside_decode)" -eq 0 ] ||
    fail "llama.cpp computed graph nodes outside the driver's decodes (a warm-up?)"
note "feed: $FEED lines; $(field "$TMP/feed.err" topk_layout)"
note "feed: $(head -n 1 "$TMP/feed.trace")"

# 2. generation only
drive "$TMP/gen" -m "$model" -n $N --feed "$TEXT" --feed-max 50 \
    --routing-out "$TMP/gen.trace" --routing-phase gen
check_trace "$TMP/gen.trace" gen $N

# 3. everything, prompt decoded one token at a time
drive "$TMP/all" -m "$model" -n $N --feed "$TEXT" --feed-max 50 --prompt-single \
    --routing-out "$TMP/all.trace" --check-routing
np=$(field "$TMP/all.err" prompt_tokens)
check_trace "$TMP/all.trace" all $((50 + np + N))
# the feed's lines are the first 50 lines of the full trace (the same decodes)
tail -n +2 "$TMP/all.trace" | head -n 50 > "$TMP/all50"
tail -n +2 "$TMP/feed.trace" | head -n 50 > "$TMP/feed50"
cmp -s "$TMP/all50" "$TMP/feed50" || fail "the feed's routing differs between phase feed and phase all"

# 4. a batched prompt cannot be recorded per token: usage error
"$LLAMA_DRIVER" --quiet -m "$model" --routing-out "$TMP/x.trace" --routing-phase prompt \
    > /dev/null 2>&1
[ $? -eq 2 ] || fail "--routing-phase prompt without --prompt-single did not exit 2"
exit 0
