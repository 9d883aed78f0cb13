# tests/routing.mk: the routing sampler (issue 12): its pure half
# (profiler/routing_sampler.c) and the preload under the real llama.cpp.
check_PROGRAMS += tests/bin/test_topk
tests_bin_test_topk_SOURCES = tests/unit/test_topk.c
tests_bin_test_topk_LDADD = profiler/libprofiler.la common/libcommon.la -lm
ROUTING_TESTS = tests/bin/test_topk tests/shim/routing.sh
TESTS += $(ROUTING_TESTS)
EXTRA_DIST += tests/shim/routing.sh
