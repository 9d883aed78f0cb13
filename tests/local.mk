# tests/: `make check` runs every test here (exit 77 = skipped, with a reason).
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
# UBSAN_OPTIONS: a stack trace with each finding of a --enable-sanitizers build
AM_TESTS_ENVIRONMENT = \
	MOETIER='$(abs_top_builddir)/tools/moetier'; export MOETIER; \
	TOP_SRCDIR='$(abs_top_srcdir)'; export TOP_SRCDIR; \
	TOP_BUILDDIR='$(abs_top_builddir)'; export TOP_BUILDDIR; \
	LLAMA_LIBDIR='$(LLAMA_LIBDIR)'; export LLAMA_LIBDIR; \
	LLAMA_DRIVER='$(abs_top_builddir)/tests/bin/llama_driver'; export LLAMA_DRIVER; \
	LLAMA_BINDIR='$(LLAMA_BINDIR)'; export LLAMA_BINDIR; \
	MOETIER_LIB='$(abs_top_builddir)/shim/.libs/libmoetier.so'; export MOETIER_LIB; \
	TESTS_BIN='$(abs_top_builddir)/tests/bin'; export TESTS_BIN; \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS-print_stacktrace=1}; export UBSAN_OPTIONS;

# the qemu guest tests (tests/qemu.mk): every area adds its own with +=
QEMU_TESTS =

include tests/unit.mk
include tests/gguf.mk
include tests/mkmoe.mk
include tests/llama.mk
include tests/programs.mk
include tests/shim.mk
include tests/routing.mk
include tests/tools.mk
include tests/tiering.mk
include tests/stage.mk
include tests/numa.mk
include tests/qemu.mk
include tests/fuzz.mk
include tests/install.mk

# make check-long: the runs too long for `make check`: the 10-minute
# llama-server soak (SOAK_SECONDS, tests/programs.mk) and fuzzing every parser
# under ASan/UBSan for FUZZ_SECONDS each, default 600 (tests/fuzz.mk).
check-long: fuzz-run
# make check-bin: only the C unit tests (tests/bin/*; scripts/test runs them
# in the sanitizer build)
check-bin:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(filter tests/bin/%,$(TESTS))'
clean-local:
	-rm -rf tests/fuzz/run-* tests/fuzz/*.log
.PHONY: check-long check-bin
include tests/bench.mk
