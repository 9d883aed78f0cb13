#!/bin/sh
# install.sh: `make install DESTDIR=...` puts the library (with the private
# jemalloc beside it), the command, moetier.pc, both man pages and the bash
# completion where the pkg-config file says; the installed library preloads
# into /bin/true, and the installed `moetier run` runs it.
. "$TOP_SRCDIR/tests/lib.sh"

work=$TMP
dest=$work/dest
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not installed"
# MAKEFLAGS would hand this make the jobserver of the `make check` around it
MAKEFLAGS= ${MAKE:-make} -s -C "$TOP_BUILDDIR" install DESTDIR="$dest" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "make install DESTDIR=$dest failed"; }

pc=$(find "$dest" -name moetier.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no moetier.pc installed"
pcdir=$(dirname "$pc")
var() { PKG_CONFIG_PATH=$pcdir pkg-config --variable="$1" moetier; }
prefix=$(var prefix) libdir=$(var libdir) pkglibdir=$(var pkglibdir) bindir=$(var bindir)
[ "$pcdir" = "$dest$libdir/pkgconfig" ] || fail "moetier.pc is in $pcdir, its libdir says $libdir"
[ "$(var preload)" = "$pkglibdir/libmoetier.so" ] || fail "preload=$(var preload)"
[ "$(var moetier)" = "$bindir/moetier" ] || fail "moetier=$(var moetier)"
case $pkglibdir in "$prefix"/*) ;; *) fail "pkglibdir $pkglibdir is outside prefix $prefix" ;; esac
PKG_CONFIG_PATH=$pcdir pkg-config --exists --print-errors moetier || fail "pkg-config rejects moetier.pc"

for f in "$bindir/moetier" "$pkglibdir/libmoetier.so" "$pkglibdir/libmoetier-jemalloc.so" \
    "$prefix/share/man/man1/moetier.1" "$prefix/share/man/man7/moetier-env.7" \
    "$prefix/share/bash-completion/completions/moetier"; do
    [ -f "$dest$f" ] || fail "not installed: $f"
done
[ -x "$dest$bindir/moetier" ] || fail "$bindir/moetier is not executable"
# the libraries and their libtool archives, nothing else (no static copies)
ls "$dest$pkglibdir" | grep -v '^libmoetier\(-jemalloc\)\?\.\(so\|la\)$' | grep -q . &&
    fail "unexpected files in $pkglibdir: $(ls "$dest$pkglibdir" | tr '\n' ' ')"

# the installed library finds its jemalloc through $ORIGIN, not the build tree
lib=$dest$pkglibdir/libmoetier.so
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$lib" | grep -E 'R(UN)?PATH' | grep -q "$TOP_BUILDDIR" &&
        fail "installed libmoetier.so still points into the build tree: $(readelf -d "$lib" | grep PATH)"
fi
out=$(LD_PRELOAD=$lib MOETIER_LOG=warn /bin/true 2>&1) || fail "LD_PRELOAD=installed libmoetier.so /bin/true failed: $out"
[ -z "$out" ] || fail "LD_PRELOAD=installed libmoetier.so /bin/true said: $out"
ldd "$lib" 2>/dev/null | grep -q "not found" && fail "installed library misses a dependency: $(ldd "$lib")"

# the installed command: runs, and `run` preloads the installed library
"$dest$bindir/moetier" --version | grep -q '^moetier ' || fail "installed moetier --version"
env=$(MOETIER_LIB=$lib "$dest$bindir/moetier" run -- /usr/bin/env) || fail "installed moetier run -- env failed"
echo "$env" | grep -q "^LD_PRELOAD=$lib" || fail "moetier run did not preload $lib"
MOETIER_LIB=$lib "$dest$bindir/moetier" run --dram 1G -- /bin/true || fail "installed moetier run -- /bin/true failed"
# the path it falls back to is the configured pkglibdir (what moetier.pc says)
grep -aq "$pkglibdir" "$dest$bindir/moetier" || fail "moetier does not look in $pkglibdir"

# man pages render without warnings
if command -v man >/dev/null 2>&1; then
    for p in "$dest$prefix/share/man/man1/moetier.1" "$dest$prefix/share/man/man7/moetier-env.7"; do
        w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
        [ -z "$w" ] || fail "man -l $p warns: $w"
        MANWIDTH=80 man -l "$p" 2>/dev/null | grep -q . || fail "man -l $p renders nothing"
    done
elif command -v groff >/dev/null 2>&1; then
    for p in "$dest$prefix/share/man/man1/moetier.1" "$dest$prefix/share/man/man7/moetier-env.7"; do
        w=$(groff -t -man -ww -z "$p" 2>&1)
        [ -z "$w" ] || fail "groff $p warns: $w"
    done
else
    note "no man or groff: pages not rendered"
fi
note "ok (prefix $prefix, pkglibdir $pkglibdir)"
