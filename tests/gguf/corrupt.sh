#!/bin/sh
# corrupt.sh: defective model files make `moetier inspect` exit 2 with one
# line on stderr, "moetier inspect: FILE: <defect>", naming the defect, in text
# and in --json mode; no variant crashes it (an exit >= 128 fails the test).
# Variants of tests/gguf/models/tiny-v3.gguf: truncations (every length in the
# header and first key, then a stride through the metadata and the data);
# absurd or negative counts, a huge key length, bad versions and magic (each
# with its expected message); one flipped bit in a stride of metadata bytes
# (exit 0 or 2, never anything else); a split model with a part missing
# (exit 1: the part cannot be read). The strides keep the run to seconds;
# tests/bin/test_gguf tries every truncation and every bit in-process.
. "$(dirname "$0")/../lib.sh"

[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
src=$TOP_SRCDIR/tests/gguf/models/tiny-v3.gguf
[ -r "$src" ] || fail "$src missing"
size=$(wc -c <"$src")
# the metadata ends before the first expert's first byte (the data starts there or earlier)
meta=$("$MOETIER" inspect --json "$src" | grep -o '"ranges":\[\[[0-9]*' | head -n 1 | sed 's/.*\[//')
[ -n "$meta" ] || fail "cannot read $src"

bad=0
f=$TMP/variant.gguf

# run MODE: inspect $f in MODE ("" or --json); sets rc, lines (0, 1, or 2 for
# "more than one") and first (the first stderr line)
run() {
    "$MOETIER" inspect "$f" $1 >/dev/null 2>"$TMP/err"
    rc=$?
    lines=0
    first=
    while IFS= read -r l; do
        [ "$lines" -eq 0 ] && first=$l
        lines=$((lines + 1))
        [ "$lines" -ge 2 ] && break
    done <"$TMP/err"
}

# expect WHAT RC GLOB...: both modes exit RC with one stderr line,
# "moetier inspect: $f: " followed by text matching one of the GLOBs
expect() {
    what=$1 want=$2
    shift 2
    for mode in "" --json; do
        run "$mode"
        ok=0
        if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ]; then
            for glob in "$@"; do
                case $first in "moetier inspect: $f: "$glob) ok=1 ;; esac
            done
        fi
        if [ "$ok" -eq 0 ]; then
            note "$what ${mode:-text}: exit $rc (want $want), $lines stderr line(s): $first"
            bad=1
        fi
    done
}

# survive WHAT: both modes exit 0 (nothing on stderr) or 2 (one line)
survive() {
    for mode in "" --json; do
        run "$mode"
        case $rc:$lines:$first in
        0:0:) ;;
        "2:1:moetier inspect: $f: "?*) ;;
        *) note "$1 ${mode:-text}: exit $rc, $lines stderr line(s): $first"; bad=1 ;;
        esac
    done
}

# put OFFSET BYTE...: overwrite bytes of $f (decimal values)
put() {
    at=$1
    shift
    s=
    for b in "$@"; do s=$s$(printf '\\%03o' "$b"); done
    printf "$s" | dd of="$f" bs=1 seek="$at" conv=notrunc 2>/dev/null
}

# 1. truncation
n=0
while [ "$n" -lt "$size" ]; do
    head -c "$n" "$src" >"$f"
    expect "truncated to $n bytes" 2 "truncated: *" "tensor * runs past the end of the file (*"
    if [ "$n" -lt 64 ]; then n=$((n + 1)); elif [ "$n" -lt "$meta" ]; then n=$((n + 13)); else n=$((n + 211)); fi
done

# 2. specific defects, each named
cp "$src" "$f"; put 8 255 255 255 255 255 255 255 127
expect "n_tensors INT64_MAX" 2 "n_tensors 9223372036854775807 is absurd for a $size-byte file"
cp "$src" "$f"; put 8 255 255 255 255 255 255 255 255
expect "n_tensors -1" 2 "n_tensors -1 is negative"
cp "$src" "$f"; put 16 0 0 0 0 0 1 0 0
expect "n_kv 2^40" 2 "n_kv 1099511627776 is absurd for a $size-byte file"
cp "$src" "$f"; put 24 0 0 0 0 0 0 0 64
expect "key length 2^62" 2 "truncated: key 0 string at offset 24 runs past the end of the file*"
cp "$src" "$f"; put 4 1 0 0 0
expect "version 1" 2 "GGUF version 1 is no longer supported*"
cp "$src" "$f"; put 4 0 0 0 3
expect "byte-swapped version" 2 "GGUF version 0x3000000 is invalid (a big-endian file?*"
cp "$src" "$f"; put 0 71 71 77 76
expect "magic GGML" 2 "not a GGUF file (magic 'GGML', expected 'GGUF')"

# 3. one flipped bit (bit at % 8) in every 7th byte of the metadata; the byte
# is restored after each variant
od -An -v -tu1 -N "$meta" "$src" | tr -s ' ' '\n' | sed '/^$/d' >"$TMP/bytes"
cp "$src" "$f"
at=0
while IFS= read -r b; do
    if [ $((at % 7)) -eq 0 ]; then
        put "$at" $((b ^ (1 << (at % 8))))
        survive "bit $((at % 8)) of byte $at flipped"
        put "$at" "$b"
    fi
    at=$((at + 1))
done <"$TMP/bytes"
[ "$at" -eq "$meta" ] || fail "read $at of $meta metadata bytes"

# 4. a split model without its second part
f=$TMP/s-00001-of-00002.gguf
cp "$TOP_SRCDIR/tests/gguf/models/split-00001-of-00002.gguf" "$f"
expect "missing part" 1 "s-00002-of-00002.gguf: No such file or directory"

[ "$bad" -eq 0 ] || fail "some variants were not reported as expected"
note "every variant reported as expected ($size-byte model, $meta bytes before the first expert)"
