# tests/mkmoe/arch_check.sh: sourced by the per-architecture mkmoe tests.
# arch_model NAME [mkmoe options]: writes $TMP/NAME.gguf, loads it in the real
# llama.cpp (8 greedy tokens, expert buffers), and checks `moetier inspect`
# sees every routed expert at the right (layer, expert) with the widths
# llama.cpp reports, and node-llama-cpp's reader agrees on every range.
# arch_routing NAME FILE [mkmoe options]: routing shaped like FILE, measured
# with the driver's recording on 600 tokens of other text (skew_olmoe_c4.sh
# feeds 2100 on llama; 600 keeps these quick on 2 busy cores): within 0.05 of
# FILE's hottest-10% share.
share() { "$MOETIER" trace --json "$1" | sed -n 's/.*"hot_share_10":\([0-9.e-]*\).*/\1/p'; }
jnum() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }

arch_model() {
    name=$1
    shift
    "$MOETIER" mkmoe "$TMP/$name.gguf" -q "$@" || fail "mkmoe $name $*"
    drive "$TMP/$name" -m "$TMP/$name.gguf" -n 8 --buffers
    grep -q '^tokens: [0-9]' "$TMP/$name.out" || fail "$name: no tokens generated"
    eb=$(sed -n 's/^expert_buffers: //p' "$TMP/$name.out")
    note "$name: $(wc -c < "$TMP/$name.gguf") bytes, expert buffers $eb, $(grep '^tokens:' "$TMP/$name.out")"
    "$MOETIER" inspect --json "$TMP/$name.gguf" > "$TMP/$name.json" || fail "inspect $name"
}

# arch_map NAME LAYERS LEAD EXPERTS SHARED: inspect's counts and map
arch_map() {
    j=$TMP/$1.json
    [ "$(jnum "$j" n_layers)" = "$(($2 - $3))" ] || fail "$1: inspect n_layers $(jnum "$j" n_layers), want $(($2 - $3))"
    [ "$(jnum "$j" n_experts)" = "$4" ] || fail "$1: inspect n_experts $(jnum "$j" n_experts), want $4"
    sh=$(sed -n 's/.*"n_experts_shared":\([0-9a-z]*\).*/\1/p' "$j")
    [ "$sh" = "$5" ] || { [ "$5" = 0 ] && [ "$sh" = null ]; } || fail "$1: inspect n_experts_shared $sh, want $5"
    # the (layer, expert) pairs: blocks LEAD..LAYERS-1, experts 0..E-1, each once
    tr '{' '\n' < "$j" | sed -n 's/^"layer":\([0-9]*\),"expert":\([0-9]*\),.*/\1 \2/p' | sort -u > "$TMP/$1.pairs"
    awk -v l0="$3" -v l1="$2" -v e="$4" 'BEGIN { for (l = l0; l < l1; l++) for (x = 0; x < e; x++) print l, x }' |
        sort -u > "$TMP/$1.want"
    cmp -s "$TMP/$1.pairs" "$TMP/$1.want" || fail "$1: inspect's (layer, expert) map differs from blocks $3-$(($2 - 1)) x $4"
    sh "$TOP_SRCDIR/tests/gguf/independent_reader.sh" "$TMP/$1.gguf" > "$TMP/$1.reader" 2>&1
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || { cat "$TMP/$1.reader"; fail "$1: inspect and node-llama-cpp disagree"; }
}

arch_routing() {
    name=$1 file=$2
    shift 2
    "$MOETIER" mkmoe "$TMP/$name.gguf" --routing "$file" -q "$@" || fail "mkmoe --routing $file $*"
    drive "$TMP/$name" -m "$TMP/$name.gguf" -n 1 --feed "$TEXT" --feed-max 600 \
        --routing-out "$TMP/$name.trace" --routing-phase feed --check-routing
    want=$(share "$file")
    got=$(share "$TMP/$name.trace")
    [ -n "$want" ] && [ -n "$got" ] || fail "$name: could not read hot_share_10 ($want, $got)"
    note "$name: target hottest-10% share $want, measured with llama.cpp $got"
    awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05) }' ||
        fail "$name: measured share $got is not within 0.05 of $want"
}
