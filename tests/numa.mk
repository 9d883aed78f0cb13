# tests/numa.mk: the numa:N slow tier's primitives (tiering/numa_tier.c,
# tiering/slow_arena.c) on this host's real kernel paths; tests that need a
# second NUMA node skip (77) here. guest.sh boots the qemu guest
# (tests/qemu/run-guest) and runs guest_numa where a CPU-less node exists.
NUMA_TESTS = \
	tests/bin/test_numa_discover \
	tests/bin/test_numa_move \
	tests/bin/test_numa_policy \
	tests/bin/test_numa_two_nodes \
	tests/bin/test_slow_arena \
	tests/bin/test_slow_arena_malloc
check_PROGRAMS += $(NUMA_TESTS) tests/bin/guest_numa
NUMA_GUEST_TESTS = tests/numa/guest.sh
TESTS += $(NUMA_TESTS)
QEMU_TESTS += $(NUMA_GUEST_TESTS)
EXTRA_DIST += tests/numa/numa_test.h $(NUMA_GUEST_TESTS)
NUMA_TEST_LIBS = tiering/libtiering.la common/libcommon.la
# the discovery test checks against libnuma, an independent reader of sysfs
tests_bin_test_numa_discover_SOURCES = tests/numa/test_numa_discover.c
tests_bin_test_numa_discover_CPPFLAGS = $(AM_CPPFLAGS) $(NUMA_CFLAGS)
tests_bin_test_numa_discover_LDADD = $(NUMA_TEST_LIBS) $(NUMA_LIBS)
tests_bin_test_numa_move_SOURCES = tests/numa/test_numa_move.c
tests_bin_test_numa_move_LDADD = $(NUMA_TEST_LIBS)
tests_bin_test_numa_policy_SOURCES = tests/numa/test_numa_policy.c
tests_bin_test_numa_policy_LDADD = $(NUMA_TEST_LIBS)
tests_bin_test_numa_two_nodes_SOURCES = tests/numa/test_numa_two_nodes.c
tests_bin_test_numa_two_nodes_LDADD = $(NUMA_TEST_LIBS)
# the arena test compares the ABI mirror in slow_arena.c with jemalloc's header
tests_bin_test_slow_arena_SOURCES = tests/numa/test_slow_arena.c
tests_bin_test_slow_arena_CPPFLAGS = $(AM_CPPFLAGS) $(JEMALLOC_CFLAGS)
tests_bin_test_slow_arena_LDADD = $(NUMA_TEST_LIBS)
tests_bin_test_slow_arena_malloc_SOURCES = tests/numa/test_slow_arena_malloc.c
# it checks that malloc stays glibc's: without ASan's (PRELOAD_CFLAGS, Makefile.am)
tests_bin_test_slow_arena_malloc_CFLAGS = $(PRELOAD_CFLAGS)
tests_bin_test_slow_arena_malloc_LDFLAGS = $(PRELOAD_LDFLAGS)
tests_bin_test_slow_arena_malloc_LDADD = $(PRELOAD_LIBS)
tests_bin_guest_numa_SOURCES = tests/numa/guest_numa.c
tests_bin_guest_numa_LDADD = $(NUMA_TEST_LIBS)
