#!/bin/sh
# `moetier doctor MODEL.gguf` prints the plan a real run makes on this
# machine: for each configuration, every line doctor shows for the stages a
# run decides from the same facts (model open, first decode) is one the shim
# logs under llama.cpp, word for word, and doctor's tiering summary is the
# start of the shim's "tiering:" line (or neither has one: tiering off).
# The stages after those depend on what only the run sees (placements, the
# routing callback) and are not compared.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text

olmoe_model "$TMP/m.gguf"
export MOETIER_PROFILE=off MOETIER_LOG=info MOETIER_STATS_DIR="$TMP/stats"

# check NAME: doctor's plan and one run under the same environment
check() {
    name=$1
    "$MOETIER" doctor "$TMP/m.gguf" > "$TMP/$name.doctor" || fail "$name: doctor exited $?"
    LD_PRELOAD="$MOETIER_LIB" "$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 200 -n 4 \
        > "$TMP/$name.out" 2> "$TMP/$name.err" || { cat "$TMP/$name.err"; fail "$name: the driver failed"; }
    sed -n 's/^moetier\[[0-9]*\] \(info\|warn\): //p' "$TMP/$name.err" > "$TMP/$name.log"
    # doctor's lines of the first two stages, less its own budget line
    awk '/^  at model open:/ || /^  at the first decode:/ { on = 1; next }
         /^  [a-z]/ { on = 0 }
         on && /^    - / { sub(/^    - (warning: )?/, ""); print }' "$TMP/$name.doctor" |
        grep -v '^DRAM budget [0-9.]* [KMGT]*i*B$' > "$TMP/$name.plan"
    [ -s "$TMP/$name.plan" ] || fail "$name: doctor printed no plan: $(cat "$TMP/$name.doctor")"
    while IFS= read -r line; do
        grep -qxF "$line" "$TMP/$name.log" ||
            fail "$name: doctor's \"$line\" is not in the run's log: $(cat "$TMP/$name.log")"
    done < "$TMP/$name.plan"
    summary=$(sed -n 's/^  tiering:       //p' "$TMP/$name.doctor")
    ran=$(sed -n 's/^tiering: \(.*\), [0-9]* of [0-9]* experts tierable.*/\1/p' "$TMP/$name.log")
    case $summary in
    off*) [ -z "$ran" ] || fail "$name: doctor says $summary, the run tiered: $ran" ;;
    *) [ "$summary" = "$ran" ] || fail "$name: doctor's plan \"$summary\", the run's \"$ran\"" ;;
    esac
    note "$name: $(wc -l < "$TMP/$name.plan") plan lines as logged; tiering: $summary"
}

check defaults
MOETIER_DRAM=4M check budget
MOETIER_DRAM=4M MOETIER_PROMOTE=lock check lock
MOETIER_DRAM=4M MOETIER_HUGEPAGES=on check huge
echo "PASS: $test_name"
