#!/bin/sh
# Every message about a bad setting names the variable and its value (issue
# 14, defect 7), under the real llama.cpp: a malformed MOETIER_MATCH glob is
# refused (the default kept) instead of silently matching nothing, a
# MOETIER_SLOW node that does not exist and a MOETIER_PROFILE that cannot be
# written are each said with VAR=VALUE. The run itself must go on.
. "$(dirname "$0")/../lib.sh"
need_driver
need_shim
need_text
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"
: > "$TMP/file"
prof=$TMP/file/m.prof # under a regular file: cannot be created
LD_PRELOAD="$MOETIER_LIB" MOETIER_LOG=info MOETIER_STATS_DIR="$TMP/stats" MOETIER_MATCH='[m*.gguf' \
    MOETIER_SLOW=numa:1000 MOETIER_PROFILE="$prof" MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% \
    drive "$TMP/bad" -m "$TMP/m.gguf" --feed "$TEXT" --feed-max 600 -n 8 # long enough for the runtime thread's first round (100 ms), where tiering starts
[ -n "$(field "$TMP/bad.out" tokens)" ] || fail "no tokens"
# says LINE: the log has LINE (a fixed string)
says() {
    grep -qF "$1" "$TMP/bad.err" || fail "no line naming the setting: '$1' in: $(grep moetier "$TMP/bad.err")"
}
says "MOETIER_MATCH=\"[m*.gguf\": an unclosed '['"
says "model $TMP/m.gguf:" # the default *.gguf still matched it
says "MOETIER_SLOW=numa:1000: no such NUMA node"
says "MOETIER_PROFILE=$prof: cannot save:"
note "MOETIER_MATCH, MOETIER_SLOW and MOETIER_PROFILE named with their values"
echo "PASS: $test_name"
