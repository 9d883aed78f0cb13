# tests/gguf.mk: the GGUF reader, the expert map, `moetier inspect`, and the
# parser's fuzz target (docs/inspect.md).
#
#   make check TESTS='tests/bin/test_gguf tests/gguf/golden.sh ...'
#   make gguf-seeds                 rewrite tests/gguf/models and tests/fuzz/corpus-gguf
# (its fuzz target, with the other parsers', is in tests/fuzz.mk)

GGUF_MODELS = \
	tests/gguf/models/tiny-v3.gguf \
	tests/gguf/models/tiny-v2.gguf \
	tests/gguf/models/fused.gguf \
	tests/gguf/models/dense.gguf \
	tests/gguf/models/split-00001-of-00002.gguf \
	tests/gguf/models/split-00002-of-00002.gguf
GGUF_GOLDEN = \
	tests/gguf/golden/tiny-v3.txt tests/gguf/golden/tiny-v3.json \
	tests/gguf/golden/tiny-v3.dram.txt tests/gguf/golden/tiny-v3.dram.pretty.json \
	tests/gguf/golden/tiny-v2.dram.txt tests/gguf/golden/tiny-v2.dram.json \
	tests/gguf/golden/fused.dram.txt tests/gguf/golden/fused.dram.json \
	tests/gguf/golden/dense.dram.txt tests/gguf/golden/dense.dram.json \
	tests/gguf/golden/split-00001-of-00002.dram.txt \
	tests/gguf/golden/split-00001-of-00002.dram.json
FUZZ_CORPUS = \
	tests/fuzz/corpus-gguf/seed-v3 \
	tests/fuzz/corpus-gguf/seed-v2-shexp \
	tests/fuzz/corpus-gguf/seed-fused-nested \
	tests/fuzz/corpus-gguf/seed-split-pair
GGUF_SCRIPT_TESTS = \
	tests/gguf/golden.sh \
	tests/gguf/corrupt.sh \
	tests/gguf/independent_reader.sh

GGUF_UNIT_TESTS = tests/bin/test_gguf tests/bin/test_expert_map
check_PROGRAMS += $(GGUF_UNIT_TESTS) tests/bin/gguf_mkseeds
TESTS += $(GGUF_UNIT_TESTS) $(GGUF_SCRIPT_TESTS)
EXTRA_DIST += $(GGUF_SCRIPT_TESTS) $(GGUF_MODELS) $(GGUF_GOLDEN) $(FUZZ_CORPUS) \
	tests/gguf/independent_reader.mjs tests/gguf/models/.gitignore

tests_bin_test_gguf_SOURCES = tests/gguf/test_gguf.c tests/gguf/tgw.c tests/gguf/tgw.h
tests_bin_test_gguf_LDADD = profiler/libprofiler.la common/libcommon.la
tests_bin_test_expert_map_SOURCES = tests/gguf/test_expert_map.c tests/gguf/tgw.c tests/gguf/tgw.h
tests_bin_test_expert_map_LDADD = profiler/libprofiler.la common/libcommon.la
tests_bin_gguf_mkseeds_SOURCES = tests/gguf/mkseeds.c tests/gguf/tgw.c tests/gguf/tgw.h
tests_bin_gguf_mkseeds_LDADD = profiler/libprofiler.la common/libcommon.la

# The committed seeds are this program's output; regenerate them after changing it
# (then refresh the goldens: REGEN=1 make check TESTS=tests/gguf/golden.sh).
gguf-seeds: tests/bin/gguf_mkseeds$(EXEEXT)
	tests/bin/gguf_mkseeds models $(top_srcdir)/tests/gguf/models
	tests/bin/gguf_mkseeds corpus $(top_srcdir)/tests/fuzz/corpus-gguf

.PHONY: gguf-seeds
