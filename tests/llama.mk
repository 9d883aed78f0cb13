# tests/llama.mk: tests against the real, unmodified llama.cpp (prebuilt npm
# libraries in deps/llama, see scripts/setup-deps and docs/driver.md).
# Without them the driver is not built and the tests skip (exit 77).
LLAMA_TESTS = \
	tests/llama/load_types.sh \
	tests/llama/deterministic.sh \
	tests/llama/routing_shape.sh \
	tests/llama/route.sh \
	tests/llama/driver_usage.sh

TESTS += $(LLAMA_TESTS)
EXTRA_DIST += $(LLAMA_TESTS)

if HAVE_LLAMA
# noinst as well as check: `make` builds the driver, so it can be used by hand
noinst_PROGRAMS += tests/bin/llama_driver
check_PROGRAMS += tests/bin/llama_driver
tests_bin_llama_driver_SOURCES = tests/driver/llama_driver.c \
	tests/driver/first_err.c tests/driver/first_err.h \
	tests/driver/node_layer.c tests/driver/node_layer.h \
	tests/driver/route.c tests/driver/route.h \
	profiler/routing_file.c profiler/routing_file.h
# it runs under the preload: PRELOAD_CFLAGS (Makefile.am)
tests_bin_llama_driver_CFLAGS = $(PRELOAD_CFLAGS) $(LLAMA_CFLAGS)
tests_bin_llama_driver_LDFLAGS = $(PRELOAD_LDFLAGS)
tests_bin_llama_driver_LDADD = $(LLAMA_LIBS)
endif
