#!/bin/sh
# moetier bench --short (the CI run of docs/bench.md): the JSON on stdout is
# the machine profile written where --out, XDG_STATE_HOME or HOME say; every
# figure of the agreed schema is a positive finite number, or left out with a
# reason in `skipped`; ranges hold their medians; the test file is removed,
# a --file is read and kept; bad usage is exit 2 with one line. No figure is
# judged by its speed: the machine is shared.
. "$(dirname "$0")/../lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
unset NO_COLOR

# usage_error FRAGMENT ARGS...: moetier bench ARGS exits 2 with one stderr line holding FRAGMENT.
usage_error() {
    frag=$1
    shift
    "$MOETIER" bench "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || { cat "$TMP/err"; fail "bench $*: exit $rc, expected 2"; }
    [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "bench $*: expected one line on stderr: $(cat "$TMP/err")"
    grep -q -- "$frag" "$TMP/err" || fail "bench $*: message lacks '$frag': $(cat "$TMP/err")"
}
usage_error "unknown option '--bogus'" --bogus
usage_error "bad --size 'abc'" --size abc
usage_error "bad --size '0'" --size 0
usage_error "needs a value" --size
usage_error "unexpected argument 'extra'" --short extra
usage_error "--out needs a file name" --out ''
usage_error "--file $TMP/none" --short --file "$TMP/none"
"$MOETIER" bench --help | grep -q '^usage: moetier bench' || fail "bench --help"

# check_profile FILE: the agreed schema (docs/bench.md), with node when present.
check_profile() {
    for k in '"schema": 1' '"host"' '"cores"' '"promote_gbps"' '"skipped"'; do
        grep -q "$k" "$1" || fail "$1 lacks $k: $(cat "$1")"
    done
    command -v node > /dev/null 2>&1 || return 0
    node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const bad = [];
const pos = (v) => typeof v === "number" && isFinite(v) && v > 0;
if (j.schema !== 1) bad.push("schema " + j.schema);
if (typeof j.host !== "string" || !j.host) bad.push("host");
if (!Number.isInteger(j.cores) || j.cores < 1) bad.push("cores");
const skipped = j.skipped || {};
const figure = (name, v, must) => {
    const why = skipped[name];
    if (v === undefined) {
        if (must || typeof why !== "string" || !why) bad.push(name + " missing without a reason");
    } else if (!pos(v)) bad.push(name + " = " + v);
    else if (why !== undefined) bad.push(name + " both measured and skipped");
};
// always measurable anywhere: memory, the CPU, the copy path
for (const k of ["dram_read_gbps", "dram_write_gbps", "cpu_dot_gbps"]) figure(k, j[k], true);
for (const k of ["file_read_gbps", "file_read_latency_us", "file_read_4k_latency_us", "fault_us", "mprotect_us"])
    figure(k, j[k], false);
// exact reads: a rate and a fixed cost a layer (0 allowed), or why not
figure("file_exact_gbps", j.file_exact_gbps, false);
if (j.file_exact_gbps !== undefined && !(j.file_exact_layer_us >= 0)) bad.push("file_exact_layer_us");
// and what the read room drops add to a layer beyond the reads in flight (0 allowed: hidden)
// (a model of one layer has no experts of another layer to drop: skipped, said why)
if (j.file_exact_gbps !== undefined && !(j.file_exact_drop_added_us >= 0) &&
    !(j.skipped && typeof j.skipped.file_exact_step_us === "string")) bad.push("file_exact_drop_added_us");
if (typeof j.exact_reads !== "object" || typeof j.exact_reads.experts !== "string") bad.push("exact_reads");
if (typeof j.promote_gbps !== "object") bad.push("promote_gbps");
else {
    figure("promote_gbps.copy", j.promote_gbps.copy, true);
    for (const m of ["lock", "move_pages"]) figure("promote_gbps." + m, j.promote_gbps[m], false);
}
for (const [k, r] of Object.entries(j.ranges || {})) {
    if (!(r.n >= 1 && r.min <= r.median && r.median <= r.max)) bad.push("range " + k);
    if (j[k] !== r.median) bad.push(k + " is not its median");
}
if (bad.length) { console.error(bad.join("; ")); process.exit(1); }
console.log("bench: dram " + j.dram_read_gbps + " GB/s, file " + j.file_read_gbps + " GB/s, promote " +
            JSON.stringify(j.promote_gbps) + "; skipped: " + Object.keys(skipped).join(", "));
' "$1" || fail "$1 does not hold the schema: $(cat "$1")"
}

# --json and --out: stdout is the profile, the directory is created, no test file is left
mkdir "$TMP/work"
cd "$TMP/work" || fail "cd"
"$MOETIER" bench --short --json --out "$TMP/state/sub/m.json" > "$TMP/stdout.json" 2> "$TMP/err" ||
    fail "bench --short --json exited $?: $(cat "$TMP/err")"
[ ! -s "$TMP/err" ] || fail "stderr is not a terminal, yet bench wrote: $(cat "$TMP/err")"
[ -f "$TMP/state/sub/m.json" ] || fail "no profile at --out"
cmp -s "$TMP/stdout.json" "$TMP/state/sub/m.json" || fail "--json output differs from the profile written"
check_profile "$TMP/state/sub/m.json"
[ -z "$(ls "$TMP/work")" ] || fail "bench left files in the working directory: $(ls "$TMP/work")"
grep -q '"created": true' "$TMP/stdout.json" || fail "the test file is not reported as created"

# the default place: XDG_STATE_HOME, then HOME; text output names it; --file is read, not removed
head -c 8388608 /dev/zero > "$TMP/weights.bin"
XDG_STATE_HOME=$TMP/xdg "$MOETIER" bench --short --file "$TMP/weights.bin" > "$TMP/text" 2>&1 ||
    fail "bench --short --file exited $?: $(cat "$TMP/text")"
grep -q "^profile: $TMP/xdg/moetier/machine.json\$" "$TMP/text" || fail "no profile line: $(cat "$TMP/text")"
check_profile "$TMP/xdg/moetier/machine.json"
grep -q '"created": false' "$TMP/xdg/moetier/machine.json" || fail "--file reported as created"
[ -f "$TMP/weights.bin" ] || fail "--file was removed"
for k in "DRAM read" "int8 dot" "file reads:" "promote copy" "page fault, file" "mprotect" "GPU h2d, pinned" \
    "exact reads:"; do
    grep -q "^$k" "$TMP/text" || fail "no '$k' line: $(cat "$TMP/text")"
done
# a GGUF model: its own experts are what the exact reads read
mkmodel "$TMP/m.gguf" q8_0
"$MOETIER" bench --short --file "$TMP/m.gguf" --out "$TMP/mm.json" > "$TMP/text" 2>&1 ||
    fail "bench --short --file MODEL exited $?: $(cat "$TMP/text")"
grep -q "^exact reads: the model's routed experts (32, 2 a token per layer)" "$TMP/text" ||
    fail "the exact reads did not read the model's experts: $(grep '^exact' "$TMP/text")"
check_profile "$TMP/mm.json"
(unset XDG_STATE_HOME; HOME=$TMP/home "$MOETIER" bench --short --size 4M --json > /dev/null) ||
    fail "bench with HOME exited $?"
check_profile "$TMP/home/.local/state/moetier/machine.json"
echo "PASS: $test_name"
