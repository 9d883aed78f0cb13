# tests/bench.mk: the benchmarks' helpers (docs/bench-capped.md). Not tests:
# nothing here is built or run by `make check` or `make`; `make bench` builds
#   tests/bench/pin_hot.la    (.libs/pin_hot.so) a preload that mlocks the
#                             hottest experts named by a profile (static pinning)
#   tests/bench/promote_bw    promotion throughput against memcpy
# with explicit libtool rules (no *_PROGRAMS/*_LTLIBRARIES variable, so the
# usual targets never see them). tests/bench/capped.sh runs `make bench` itself.
BENCH_BUILT = tests/bench/pin_hot.la tests/bench/promote_bw
EXTRA_DIST += tests/bench/pin_hot.c tests/bench/promote_bw.c tests/bench/capped.sh tests/bench/shim_overhead.sh \
	tests/bench/llama_bench.sh tests/bench/kimi_costs.sh tests/bench/sim_validate.sh tests/bench/real_routing.sh \
	tests/bench/online_policies.py

bench: $(BENCH_BUILT)

tests/bench/pin_hot.lo: $(srcdir)/tests/bench/pin_hot.c
	@$(MKDIR_P) tests/bench
	$(AM_V_CC)$(LTCOMPILE) -c -o $@ $(srcdir)/tests/bench/pin_hot.c

tests/bench/pin_hot.la: tests/bench/pin_hot.lo profiler/libprofiler.la common/libcommon.la
	$(AM_V_CCLD)$(LIBTOOL) $(AM_V_lt) --tag=CC $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=link $(CCLD) \
	  $(AM_CFLAGS) $(CFLAGS) -module -avoid-version -shared -rpath $(abs_builddir)/tests/bench $(LDFLAGS) \
	  -o $@ tests/bench/pin_hot.lo profiler/libprofiler.la common/libcommon.la -ldl -lm

tests/bench/promote_bw.$(OBJEXT): $(srcdir)/tests/bench/promote_bw.c
	@$(MKDIR_P) tests/bench
	$(AM_V_CC)$(COMPILE) -c -o $@ $(srcdir)/tests/bench/promote_bw.c

# the clock and the summaries of moetier bench (tools/bench.c)
tests/bench/bench_util.$(OBJEXT): $(srcdir)/tools/bench.c
	@$(MKDIR_P) tests/bench
	$(AM_V_CC)$(COMPILE) -c -o $@ $(srcdir)/tools/bench.c

tests/bench/promote_bw: tests/bench/promote_bw.$(OBJEXT) tests/bench/bench_util.$(OBJEXT) tiering/libtiering.la \
	  common/libcommon.la
	$(AM_V_CCLD)$(LIBTOOL) $(AM_V_lt) --tag=CC $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=link $(CCLD) \
	  $(AM_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ tests/bench/promote_bw.$(OBJEXT) tests/bench/bench_util.$(OBJEXT) \
	  tiering/libtiering.la common/libcommon.la -lm $(LIBS)

clean-bench:
	-rm -rf tests/bench/*.lo tests/bench/*.o tests/bench/*.la tests/bench/.libs tests/bench/promote_bw
clean-local: clean-bench
.PHONY: bench clean-bench
