# tests/fuzz.mk: libFuzzer targets for every parser of untrusted input
# (docs/fuzzing.md). clang only; not part of `make check`.
#
#   make fuzz                       build tests/fuzz/fuzz_<name> (libFuzzer+ASan+UBSan)
#   make fuzz-run FUZZ_SECONDS=600  fuzz each for FUZZ_SECONDS on a copy of its seeds
#   make fuzz-run FUZZ_TARGETS=stage FUZZ_SECONDS=60   one target
#
# Each target reads tests/fuzz/fuzz_<name>.c, seeds tests/fuzz/corpus-<name>/
# and, when there is one, the dictionary tests/fuzz/<name>.dict.

FUZZ_SECONDS = 600
FUZZ_TARGETS = gguf config routing profile stage
FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=gnu11

# the parser sources each target links (it is built straight from them, not
# from the libtool archives, so that all of it is instrumented)
fuzz_gguf_SRCS = profiler/gguf.c profiler/expert_map.c profiler/ggml_types.c common/fmt.c
fuzz_config_SRCS = common/config.c common/size.c common/log.c common/fmt.c common/number.c
fuzz_routing_SRCS = profiler/routing_file.c
fuzz_profile_SRCS = profiler/profile.c common/fmt.c common/hash.c common/private_dir.c
fuzz_stage_SRCS = tiering/stage.c common/fmt.c common/number.c common/page.c

FUZZ_BINS = $(FUZZ_TARGETS:%=tests/fuzz/fuzz_%)
FUZZ_DIST = \
	tests/fuzz/run.sh tests/fuzz/mkseeds.py \
	tests/fuzz/fuzz_gguf.c tests/fuzz/gguf.dict tests/fuzz/corpus-gguf \
	tests/fuzz/fuzz_config.c tests/fuzz/config.dict tests/fuzz/corpus-config \
	tests/fuzz/fuzz_routing.c tests/fuzz/routing.dict tests/fuzz/corpus-routing \
	tests/fuzz/fuzz_profile.c tests/fuzz/profile.dict tests/fuzz/corpus-profile \
	tests/fuzz/fuzz_stage.c tests/fuzz/stage.dict tests/fuzz/corpus-stage
EXTRA_DIST += $(FUZZ_DIST)

fuzz: $(FUZZ_BINS)

FUZZ_ALL_SRCS = $(sort $(fuzz_gguf_SRCS) $(fuzz_config_SRCS) $(fuzz_routing_SRCS) \
	$(fuzz_profile_SRCS) $(fuzz_stage_SRCS))
$(FUZZ_BINS): tests/fuzz/fuzz_%: $(top_srcdir)/tests/fuzz/fuzz_%.c $(FUZZ_ALL_SRCS:%=$(top_srcdir)/%) config.h
	@if test -z "$(CLANG)"; then \
	  echo "make fuzz: configure found no clang (Debian: apt-get install clang libclang-rt-14-dev)"; \
	  exit 1; fi
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -I$(top_srcdir) -I$(top_builddir) \
	  $< $(fuzz_$*_SRCS:%=$(top_srcdir)/%) -o $@

# New inputs stay in tests/fuzz/run-<name>/ between runs; crashes land in
# tests/fuzz/crash-* and fail the run after every target has had its turn.
# The executions per target go to tests/fuzz/report.txt (and the output).
fuzz-run: $(FUZZ_BINS)
	$(SHELL) $(top_srcdir)/tests/fuzz/run.sh $(top_srcdir)/tests/fuzz tests/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

CLEANFILES += $(FUZZ_BINS) tests/fuzz/report.txt
.PHONY: fuzz fuzz-run
