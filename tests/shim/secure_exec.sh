#!/bin/sh
# In a setuid/setgid/capability process (AT_SECURE) the preload does nothing:
# it reads no MOETIER_* variable, so an unprivileged user cannot make a
# privileged program create or append a file of its choosing
# (MOETIER_LOG_FILE), publish a stats segment or open a model
# (MOETIER_MODEL). docs/threat-model.md. Needs root (a setuid-root copy of
# tests/bin/secure_probe run as nobody through setpriv); skipped otherwise.
. "$(dirname "$0")/../lib.sh"
MOETIER_LIB=${MOETIER_LIB:-$TOP_BUILDDIR/shim/.libs/libmoetier.so}
PROBE=$TOP_BUILDDIR/tests/bin/secure_probe
[ -f "$MOETIER_LIB" ] || skip "libmoetier.so not built ($MOETIER_LIB missing)"
[ -x "$PROBE" ] || skip "secure_probe not built ($PROBE missing): make check builds it"
[ "$(id -u)" -eq 0 ] || skip "not root: cannot make a setuid-root binary"
command -v setpriv > /dev/null 2>&1 || skip "setpriv (util-linux) missing: cannot run as another user"
id nobody > /dev/null 2>&1 || skip "no user nobody"
clear_moetier_env
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
need_mkmoe

# what nobody may run: a copy of the probe (setuid root below) in a 0755
# directory; it loads the library from the build tree (its rpath)
chmod 755 "$TMP"
pub=$TMP/pub
mkdir -m 755 "$pub"
cp "$PROBE" "$pub/secure_probe"
chmod 755 "$pub/secure_probe"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$pub/secure_probe" > /dev/null 2>&1 ||
    skip "nobody cannot run the probe (the build tree is not readable by other users?)"
# what nobody must not be able to write through the privileged program
priv=$TMP/root-only
mkdir -m 700 "$priv"
mkmodel "$priv/model.gguf" q8_0
chmod 644 "$priv/model.gguf"

# run_probe DIR CMD...: CMD with the variables an attacker would set, pointing into DIR
run_probe() {
    dir=$1
    shift
    env MOETIER_LOG=debug MOETIER_LOG_FILE="$dir/victim.log" MOETIER_STATS_DIR="$dir/stats" \
        MOETIER_MODEL="$priv/model.gguf" "$@" > "$TMP/probe.out" 2> "$TMP/probe.err"
}

# control: as root, not AT_SECURE, the same variables are obeyed (the probe sees them)
ctl=$TMP/control
mkdir -m 700 "$ctl"
run_probe "$ctl" "$pub/secure_probe" || fail "control run: $(cat "$TMP/probe.err")"
grep -q '^at_secure 0$' "$TMP/probe.out" || fail "control run is AT_SECURE: $(cat "$TMP/probe.out")"
[ -s "$ctl/victim.log" ] || fail "control: MOETIER_LOG_FILE not written: the probe cannot see the preload act"
ls "$ctl/stats"/moetier-*.stats > /dev/null 2>&1 || note "control: no stats segment left (removed at exit)"

# setuid root, run by nobody: AT_SECURE
chmod 4755 "$pub/secure_probe"
run_probe "$priv" setpriv --reuid=nobody --regid=nogroup --clear-groups "$pub/secure_probe"
rc=$?
if ! grep -q '^at_secure 1$' "$TMP/probe.out"; then
    skip "the setuid probe did not run AT_SECURE (nosuid mount or no_new_privs?): $(cat "$TMP/probe.out" "$TMP/probe.err")"
fi
[ $rc -eq 0 ] || fail "the setuid probe failed (exit $rc): $(cat "$TMP/probe.err")"
[ ! -e "$priv/victim.log" ] || fail "AT_SECURE: MOETIER_LOG_FILE was created as root: $(cat "$priv/victim.log")"
[ ! -e "$priv/stats" ] || fail "AT_SECURE: MOETIER_STATS_DIR was created as root"
[ ! -s "$TMP/probe.err" ] || fail "AT_SECURE: the preload wrote to stderr: $(cat "$TMP/probe.err")"
echo "PASS: $test_name"
