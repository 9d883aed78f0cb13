#!/bin/sh
# The preload must be invisible where it has nothing to do: a process that never
# opens a model behaves exactly as without it (same output, same exit status,
# no stats segment, nothing on stderr); MOETIER_DISABLE=1 is pure pass-through
# even for llama.cpp on a model; a forking and exec-ing parent (a shell script
# that launches the driver) works and its child is tiered; bad values are named
# in one warning and the default kept; MOETIER_STRICT=1 turns them into exit 2.
. "$(dirname "$0")/../lib.sh"
need_shim

# 1. ordinary programs under the preload: identical output and status
for cmd in "sort -r $TOP_SRCDIR/data/traces/README.md" "sh -c 'echo hi; exit 3'" "ls /usr/share/common-licenses" "gzip -c $TOP_SRCDIR/LICENSE"; do
    eval "$cmd" > "$TMP/plain" 2> "$TMP/plain.err"; a=$?
    eval "MOETIER_STATS_DIR=$TMP/stats LD_PRELOAD=$MOETIER_LIB $cmd" > "$TMP/shim" 2> "$TMP/shim.err"; b=$?
    [ $a -eq $b ] || fail "'$cmd': exit $a without, $b with the preload"
    cmp -s "$TMP/plain" "$TMP/shim" || fail "'$cmd': output differs under the preload"
    cmp -s "$TMP/plain.err" "$TMP/shim.err" || fail "'$cmd': stderr differs under the preload: $(cat "$TMP/shim.err")"
done
[ -z "$(ls "$TMP/stats" 2>/dev/null)" ] || fail "a process that opened no model published stats"

# 2. bad configuration: one warning naming the variable, default kept
MOETIER_DRAM=12Q LD_PRELOAD=$MOETIER_LIB /bin/true 2> "$TMP/err" || fail "a bad MOETIER_DRAM made true fail"
[ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q 'MOETIER_DRAM="12Q": not a size' "$TMP/err" ||
    fail "bad MOETIER_DRAM: expected one warning, got: $(cat "$TMP/err")"
MOETIER_STRICT=1 MOETIER_SAMPLE_MS=fast LD_PRELOAD=$MOETIER_LIB /bin/true 2> "$TMP/err"; rc=$?
[ $rc -eq 2 ] || fail "MOETIER_STRICT=1 with a bad value: exit $rc, expected 2"
grep -q "MOETIER_SAMPLE_MS" "$TMP/err" || fail "strict message does not name the variable: $(cat "$TMP/err")"

[ -x "$LLAMA_DRIVER" ] || { echo "PASS: $test_name (driver parts skipped: no llama_driver)"; exit 0; }
"$MOETIER" mkmoe "$TMP/m.gguf" --embd 256 -q || fail "mkmoe"

# 3. MOETIER_DISABLE=1: the model is opened but nothing happens
MOETIER_DISABLE=1 MOETIER_LOG=debug MOETIER_STATS_DIR="$TMP/stats" MOETIER_PROFILE="$TMP/d.prof" \
    LD_PRELOAD="$MOETIER_LIB" drive "$TMP/dis" -m "$TMP/m.gguf" -n 8
grep -q "^moetier\[[0-9]*\]" "$TMP/dis.err" && fail "MOETIER_DISABLE=1 still logged: $(grep "^moetier\[" "$TMP/dis.err")"
[ ! -e "$TMP/d.prof" ] || fail "MOETIER_DISABLE=1 still wrote a profile"

# 4. a shell parent that forks and execs the driver: the child is tiered, tokens unchanged
cat > "$TMP/launch.sh" <<EOS
#!/bin/sh
echo "parent \$\$ starting"
"$LLAMA_DRIVER" --quiet -m "$TMP/m.gguf" -n 8 > "$TMP/child.out" 2> "$TMP/child.err" &
wait \$!
status=\$?
echo "parent done \$status"
exit \$status
EOS
drive "$TMP/plain" -m "$TMP/m.gguf" -n 8
MOETIER_LOG=info MOETIER_PROFILE="$TMP/c.prof" MOETIER_STATS_DIR="$TMP/stats" MOETIER_SAMPLE_MS=1 MOETIER_SAMPLE_BUDGET=100% \
    LD_PRELOAD="$MOETIER_LIB" sh "$TMP/launch.sh" > "$TMP/launch.out" 2> "$TMP/launch.err" || fail "launcher failed"
grep -q "parent done 0" "$TMP/launch.out" || fail "launcher: $(cat "$TMP/launch.out")"
[ "$(field "$TMP/plain.out" tokens)" = "$(field "$TMP/child.out" tokens)" ] || fail "tokens differ through the launcher"
grep -q "info: model" "$TMP/child.err" || fail "the exec'd driver was not tiered: $(cat "$TMP/child.err")"
[ -s "$TMP/c.prof" ] || fail "the exec'd driver wrote no profile"
grep -q moetier "$TMP/launch.err" && fail "the shell parent logged: $(cat "$TMP/launch.err")"

# 5. MOETIER_ONLY_COMM: another command name stays untouched
MOETIER_ONLY_COMM='node*' MOETIER_LOG=info LD_PRELOAD="$MOETIER_LIB" drive "$TMP/oc" -m "$TMP/m.gguf" -n 4
grep -q "^moetier\[[0-9]*\]" "$TMP/oc.err" && fail "MOETIER_ONLY_COMM=node* still tiered llama_driver"
echo "PASS: $test_name"
