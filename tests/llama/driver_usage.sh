#!/bin/sh
# The driver's exit codes: 0 for --help, 2 for bad usage, 1 for runtime
# failures (a missing model or feed file), each with a clean message.
. "$(dirname "$0")/../lib.sh"
need_driver

# expect CODE ARGS...: runs the driver, checks the exit code and, for
# failures, that stderr says something prefixed with "llama_driver:".
expect() {
    want=$1
    shift
    "$LLAMA_DRIVER" --quiet "$@" > "$TMP/out" 2> "$TMP/err"
    got=$?
    [ $got -eq "$want" ] || { cat "$TMP/err"; fail "'$*' exited $got, wanted $want"; }
    if [ "$want" -ne 0 ]; then
        grep -q '^llama_driver: ' "$TMP/err" || { cat "$TMP/err"; fail "'$*': no error message"; }
    fi
}

"$LLAMA_DRIVER" --help > "$TMP/help" 2>&1 || fail "--help exited non-zero"
grep -q '^usage: llama_driver' "$TMP/help" || fail "--help printed no usage"

expect 2 -n 4
expect 2 -m x.gguf --bogus
expect 2 -m x.gguf -n
expect 2 -m x.gguf -n many
expect 2 -m x.gguf -t 0
expect 2 -m x.gguf --load-mode fast
expect 2 -m x.gguf --routing-phase feed
expect 2 -m x.gguf --routing-out "$TMP/t" --routing-phase often
expect 2 -m x.gguf --feed-max 10
expect 2 -m x.gguf --check-routing
expect 2 -m x.gguf extra-argument
expect 1 -m "$TMP/no-such-model.gguf"
expect 1 -m "$TMP/no-such-model.gguf" --feed "$TMP/no-such-text"
printf 'GGUF not really' > "$TMP/bad.gguf"
expect 1 -m "$TMP/bad.gguf"
exit 0
