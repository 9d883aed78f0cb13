# tests/unit.mk: C unit tests of the shared helpers, the quantizers and the
# routing-file loader, the fetch sampler and the fault sampler's PMD-sized
# protection on real file mappings (no llama.cpp needed).
EXTRA_DIST += tests/lib.sh tests/unit/check.h tests/unit/scratch_file.h
UNIT_TESTS = tests/bin/test_common tests/bin/test_quant tests/bin/test_routing tests/bin/test_fetch tests/bin/test_fault_blocks \
	tests/bin/test_fault_claim tests/bin/test_lock_rank tests/bin/test_hash tests/bin/test_number tests/bin/test_page \
	tests/bin/test_sysfs
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
tests_bin_test_common_SOURCES = tests/unit/test_common.c
tests_bin_test_common_LDADD = common/libcommon.la -lm
tests_bin_test_quant_SOURCES = tests/unit/test_quant.c tools/quant.c
tests_bin_test_quant_LDADD = profiler/libprofiler.la common/libcommon.la -lm
tests_bin_test_routing_SOURCES = tests/unit/test_routing.c
tests_bin_test_routing_LDADD = profiler/libprofiler.la common/libcommon.la -lm
tests_bin_test_fetch_SOURCES = tests/unit/test_fetch.c
tests_bin_test_fetch_LDADD = profiler/libprofiler.la common/libcommon.la -lm
tests_bin_test_fault_blocks_SOURCES = tests/unit/test_fault_blocks.c
tests_bin_test_fault_blocks_LDADD = profiler/libprofiler.la common/libcommon.la -lm
# the samplers claim only faults of their own protection (issue 14)
tests_bin_test_fault_claim_SOURCES = tests/unit/test_fault_claim.c
tests_bin_test_fault_claim_LDADD = profiler/libprofiler.la common/libcommon.la -lpthread -lm
# the lock-order checker aborts on a wrong order (issue 14)
tests_bin_test_lock_rank_SOURCES = tests/unit/test_lock_rank.c
tests_bin_test_lock_rank_LDADD = common/libcommon.la -lpthread
# the primitives in common/: one implementation each (issue 14)
tests_bin_test_hash_SOURCES = tests/unit/test_hash.c
tests_bin_test_hash_LDADD = common/libcommon.la
tests_bin_test_number_SOURCES = tests/unit/test_number.c
tests_bin_test_number_LDADD = common/libcommon.la
tests_bin_test_page_SOURCES = tests/unit/test_page.c
tests_bin_test_page_LDADD = common/libcommon.la
tests_bin_test_sysfs_SOURCES = tests/unit/test_sysfs.c
tests_bin_test_sysfs_LDADD = common/libcommon.la
