#!/bin/sh
# golden.sh: `moetier inspect` on the committed test models prints exactly
# tests/gguf/golden/* (text and --json, with and without --dram, a split
# model, a dense one), exits 0 and says nothing on stderr.
# REGEN=1 rewrites the goldens in the source tree instead of comparing.
. "$(dirname "$0")/../lib.sh"

[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
models=$TOP_SRCDIR/tests/gguf/models
golden=$TOP_SRCDIR/tests/gguf/golden
[ -d "$models" ] || fail "$models missing"

bad=0
# check GOLDEN MODEL [ARGS...]
check() {
    g=$1
    shift
    # relative paths, so the output does not depend on where the tree lives
    (cd "$models" && NO_COLOR=1 "$MOETIER" inspect "$@") >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$TMP/err" ]; then
        note "inspect $*: exit $rc, stderr:"
        cat "$TMP/err"
        bad=1
        return
    fi
    if [ "${REGEN:-0}" = 1 ]; then
        cp "$TMP/out" "$golden/$g"
        note "wrote $golden/$g"
    elif ! diff -u "$golden/$g" "$TMP/out"; then
        note "inspect $* differs from golden/$g (diff above; REGEN=1 rewrites it)"
        bad=1
    fi
}

check tiny-v3.txt tiny-v3.gguf
check tiny-v3.json tiny-v3.gguf --json
check tiny-v3.dram.txt tiny-v3.gguf --dram 1K
check tiny-v3.dram.pretty.json --pretty tiny-v3.gguf --dram=1K
for m in tiny-v2 fused dense split-00001-of-00002; do
    check "$m.dram.txt" "$m.gguf" --dram 1K
    check "$m.dram.json" "$m.gguf" --dram 1K --json
done

[ "$bad" -eq 0 ] || fail "output differs from the goldens"
note "all outputs match the goldens"
