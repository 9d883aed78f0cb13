# packaging/: what `make install` puts beside the library and the command:
# the pkg-config file (paths only: moetier is preloaded, not linked) and the
# bash completion.
pkgconfigdir = $(libdir)/pkgconfig
nodist_pkgconfig_DATA = packaging/moetier.pc
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = packaging/completion/moetier
EXTRA_DIST += packaging/moetier.pc.in

# libtool relinks libmoetier.so at install against libmoetier-jemalloc.so in
# the destination, so that one has to be there first: shim/local.mk lists it
# second in pkglib_LTLIBRARIES (reordering it there would make this rule moot).
# The target is named through a variable: a plain prerequisite line would
# replace automake's install rule instead of adding to it.
moetier_install_lib_rule = install-pkglibLTLIBRARIES
$(moetier_install_lib_rule): install-moetier-jemalloc
install-moetier-jemalloc: shim/libmoetier-jemalloc.la
	@$(NORMAL_INSTALL)
	$(MKDIR_P) "$(DESTDIR)$(pkglibdir)"
	$(LIBTOOL) $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=install $(INSTALL) \
	  shim/libmoetier-jemalloc.la "$(DESTDIR)$(pkglibdir)"
.PHONY: install-moetier-jemalloc

# make installcheck (distcheck runs it on a real prefix): the installed
# `moetier run` finds the installed library by itself, and it preloads.
installcheck-local:
	out=`env -u MOETIER_LIB "$(DESTDIR)$(bindir)/moetier" run -- /usr/bin/env` && \
	  echo "$$out" | grep -q "^LD_PRELOAD=$(DESTDIR)$(pkglibdir)/libmoetier.so" || \
	  { echo "installcheck: moetier run does not preload $(pkglibdir)/libmoetier.so"; exit 1; }
	env -u MOETIER_LIB "$(DESTDIR)$(bindir)/moetier" run --dram 1G -- /bin/true
