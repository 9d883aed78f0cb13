#!/bin/sh
# independent_reader.sh: node-llama-cpp's GGUF reader (an independent parser)
# and `moetier inspect --json` agree byte for byte on every routed expert's
# ranges, the byte totals and the counts (tests/gguf/independent_reader.mjs).
#
#   independent_reader.sh [MODEL.gguf...]
# Without arguments: the committed test models plus those named (space
# separated) in $GGUF_READER_MODELS. A split model is named by its first part.
# Skips when node or deps/npm (scripts/setup-deps) is missing.
. "$(dirname "$0")/../lib.sh"

[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
command -v node >/dev/null 2>&1 || skip "node is not installed"
nm=$TOP_SRCDIR/deps/npm/node_modules
[ -f "$nm/node-llama-cpp/dist/index.js" ] ||
    skip "node-llama-cpp not installed under $TOP_SRCDIR/deps/npm (run scripts/setup-deps)"

if [ $# -eq 0 ]; then
    m=$TOP_SRCDIR/tests/gguf/models
    set -- "$m/tiny-v3.gguf" "$m/tiny-v2.gguf" "$m/fused.gguf" "$m/dense.gguf" \
        "$m/split-00001-of-00002.gguf" ${GGUF_READER_MODELS:-}
fi
node "$TOP_SRCDIR/tests/gguf/independent_reader.mjs" "$nm" "$MOETIER" "$@"
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || fail "moetier and node-llama-cpp disagree (above)"
exit "$rc"
