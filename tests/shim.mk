# tests/shim.mk: the preload library under real binaries (llama.cpp through the
# driver, node with node-llama-cpp, shells), and the profiler's accuracy.
check_PROGRAMS += tests/bin/accuracy tests/bin/fork_child tests/bin/preload_probe tests/bin/decode_threads tests/bin/secure_probe
# decode threads and weight-buffer churn while rounds migrate (issue 14):
# the program runs under the preload; fake_llama.so is its "real" llama_decode
tests_bin_decode_threads_SOURCES = tests/shim/decode_threads.c
tests_bin_decode_threads_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_decode_threads_LDFLAGS = $(PRELOAD_LDFLAGS)
tests_bin_decode_threads_LDADD = -ldl -lpthread
check_LTLIBRARIES = tests/bin/libfake_llama.la
tests_bin_libfake_llama_la_SOURCES = tests/shim/fake_llama.c
# loaded into decode_threads, under the preload: no ASan either (Makefile.am)
tests_bin_libfake_llama_la_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_libfake_llama_la_LDFLAGS = $(PRELOAD_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
# linked against the shim with an absolute rpath (a setuid copy of it ignores
# LD_PRELOAD but honours that rpath): secure_exec.sh
tests_bin_secure_probe_SOURCES = tests/shim/secure_probe.c
tests_bin_secure_probe_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_secure_probe_LDFLAGS = $(PRELOAD_LDFLAGS) -no-install -L$(top_builddir)/shim/.libs \
	-Wl,--no-as-needed,-rpath,$(abs_top_builddir)/shim/.libs
tests_bin_secure_probe_LDADD = -lmoetier
EXTRA_tests_bin_secure_probe_DEPENDENCIES = shim/libmoetier.la
# these two run under the preload: PRELOAD_CFLAGS (Makefile.am)
tests_bin_preload_probe_SOURCES = tests/shim/preload_probe.c
tests_bin_preload_probe_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_preload_probe_LDFLAGS = $(PRELOAD_LDFLAGS)
tests_bin_fork_child_SOURCES = tests/shim/fork_child.c
tests_bin_fork_child_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_fork_child_LDFLAGS = $(PRELOAD_LDFLAGS)
tests_bin_accuracy_SOURCES = tests/shim/accuracy.c
tests_bin_accuracy_LDADD = profiler/libprofiler.la common/libcommon.la -lm
SHIM_TESTS = \
	tests/shim/passthrough.sh \
	tests/shim/identity.sh \
	tests/shim/accuracy.sh \
	tests/shim/node.sh \
	tests/shim/segv_chain.sh \
	tests/shim/stray_write.sh \
	tests/shim/bad_settings.sh \
	tests/shim/live_stats.sh \
	tests/shim/fork.sh \
	tests/shim/preload_arena.sh \
	tests/shim/decode_threads.sh \
	tests/shim/secure_exec.sh \
	tests/shim/fault_inject.sh \
	tests/shim/kill_restart.sh
TESTS += $(SHIM_TESTS)
# plain LD_PRELOAD in the qemu guest: the numa:N arena, device-dax MAP_FIXED (issue 14)
QEMU_TESTS += tests/shim/guest_preload.sh
EXTRA_DIST += tests/shim/guest_preload.sh
EXTRA_DIST += $(SHIM_TESTS) tests/node/generate.mjs
# make check-valgrind: the preload in llama.cpp under valgrind memcheck
# (minutes; not in `make check`: docs/sanitizers.md)
EXTRA_DIST += tests/shim/valgrind.sh tests/shim/valgrind.supp
check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/shim/valgrind.sh
.PHONY: check-valgrind
