# tests/gguf.mk: the GGUF reader, the expert map, `moetier inspect`, and the
# parser's fuzz target (docs/inspect.md).
#
#   make check TESTS='tests/bin/test_gguf tests/gguf/golden.sh ...'
#   make gguf-seeds                 rewrite tests/gguf/models and tests/fuzz/corpus
#   make fuzz                       build tests/fuzz/fuzz_gguf (clang, libFuzzer+ASan+UBSan)
#   make fuzz-run FUZZ_SECONDS=600  fuzz a copy of the seed corpus in the build dir

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
	tests/fuzz/corpus/seed-v3 \
	tests/fuzz/corpus/seed-v2-shexp \
	tests/fuzz/corpus/seed-fused-nested \
	tests/fuzz/corpus/seed-split-pair
GGUF_SCRIPT_TESTS = \
	tests/gguf/golden.sh \
	tests/gguf/corrupt.sh \
	tests/gguf/independent_reader.sh

GGUF_UNIT_TESTS = tests/bin/test_gguf tests/bin/test_expert_map
check_PROGRAMS += $(GGUF_UNIT_TESTS) tests/bin/gguf_mkseeds
TESTS += $(GGUF_UNIT_TESTS) $(GGUF_SCRIPT_TESTS)
EXTRA_DIST += $(GGUF_SCRIPT_TESTS) $(GGUF_MODELS) $(GGUF_GOLDEN) $(FUZZ_CORPUS) \
	tests/gguf/independent_reader.mjs tests/gguf/models/.gitignore \
	tests/fuzz/fuzz_gguf.c tests/fuzz/gguf.dict

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
	tests/bin/gguf_mkseeds corpus $(top_srcdir)/tests/fuzz/corpus

# ---- fuzzing (clang only; not part of `make check`) ---------------------------
FUZZ_SECONDS = 600
FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=gnu11
FUZZ_SRCS = \
	$(top_srcdir)/tests/fuzz/fuzz_gguf.c \
	$(top_srcdir)/profiler/gguf.c \
	$(top_srcdir)/profiler/expert_map.c \
	$(top_srcdir)/profiler/ggml_types.c \
	$(top_srcdir)/common/fmt.c
FUZZ_HDRS = \
	$(top_srcdir)/profiler/gguf.h \
	$(top_srcdir)/profiler/expert_map.h \
	$(top_srcdir)/profiler/ggml_types.h \
	$(top_srcdir)/common/fmt.h

fuzz: tests/fuzz/fuzz_gguf

tests/fuzz/fuzz_gguf: $(FUZZ_SRCS) $(FUZZ_HDRS) config.h
	@if test -z "$(CLANG)"; then \
	  echo "make fuzz: configure found no clang (Debian: apt-get install clang libclang-rt-14-dev)"; \
	  exit 1; fi
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -I$(top_srcdir) -I$(top_builddir) $(FUZZ_SRCS) -o $@

# New inputs the fuzzer finds stay in tests/fuzz/corpus-run between runs;
# crashes land in tests/fuzz/crash-* (and the run fails).
fuzz-run: tests/fuzz/fuzz_gguf
	@$(MKDIR_P) tests/fuzz/corpus-run
	cp $(top_srcdir)/tests/fuzz/corpus/* tests/fuzz/corpus-run/
	tests/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -dict=$(top_srcdir)/tests/fuzz/gguf.dict -artifact_prefix=tests/fuzz/ -print_final_stats=1 \
	  tests/fuzz/corpus-run

CLEANFILES += tests/fuzz/fuzz_gguf
.PHONY: fuzz fuzz-run gguf-seeds
