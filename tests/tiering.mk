# tests/tiering.mk: the cache policies (unit tests on hand-made sequences),
# moetier replay on the real ESFT traces (reference figures, golden output, the
# default policy's bytes against lru and lfu on every trace), the
# migration engine (remaps and every error path by fault injection; the
# 100,000-operation stress test under checksumming readers) and the real
# llama.cpp under a DRAM budget, whose slow-tier bytes per token are compared
# with replay's on the same routing (live_vs_replay.sh).
TIERING_UNIT_TESTS = tests/bin/test_policy tests/bin/test_migrate tests/bin/stress_migrate \
	tests/bin/test_fork_cache tests/bin/test_plan tests/bin/test_two_phase tests/bin/test_demand_cache \
	tests/bin/test_page_cache_model tests/bin/test_step_ring
check_PROGRAMS += $(TIERING_UNIT_TESTS)
tests_bin_test_policy_SOURCES = tests/tiering/test_policy.c
tests_bin_test_policy_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
tests_bin_test_demand_cache_SOURCES = tests/tiering/test_demand_cache.c
tests_bin_test_demand_cache_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
# per layer: a step fed a layer at a time leaves what the whole step leaves (issue 12)
tests_bin_test_step_ring_SOURCES = tests/tiering/test_step_ring.c
tests_bin_test_step_ring_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
# sim's plain row: the kernel's page cache lists (issue 13)
tests_bin_test_page_cache_model_SOURCES = tests/tiering/test_page_cache_model.c
tests_bin_test_page_cache_model_LDADD = tiering/libtiering.la common/libcommon.la -lm
tests_bin_test_migrate_SOURCES = tests/tiering/test_migrate.c tests/tiering/vm_locked.h tests/tiering/engine_fixture.h
tests_bin_test_migrate_LDADD = tiering/libtiering.la common/libcommon.la -lm
# a forked child reads the model, not the cache the parent punches (issue 14)
tests_bin_test_fork_cache_SOURCES = tests/tiering/test_fork_cache.c
tests_bin_test_fork_cache_LDADD = tiering/libtiering.la common/libcommon.la -lm
# every run-time decision from hand-made facts (issue 14: a plan, computed once)
tests_bin_test_plan_SOURCES = tests/tiering/test_plan.c
tests_bin_test_plan_LDADD = tiering/libtiering.la common/libcommon.la -lm
# moves run without the caller's lock; forget during a move (issue 14)
tests_bin_test_two_phase_SOURCES = tests/tiering/test_two_phase.c tests/tiering/engine_fixture.h
tests_bin_test_two_phase_LDADD = tiering/libtiering.la common/libcommon.la -lpthread -lm
tests_bin_stress_migrate_SOURCES = tests/tiering/stress_migrate.c
tests_bin_stress_migrate_LDADD = tiering/libtiering.la common/libcommon.la -lpthread -lm
TIERING_SCRIPT_TESTS = \
	tests/tiering/llama_budget.sh \
	tests/tiering/llama_lock.sh \
	tests/tiering/doctor_plan.sh \
	tests/tiering/llama_fetch.sh \
	tests/tiering/batch_reads.sh \
	tests/tiering/fetch_off.sh \
	tests/tiering/set_live.sh \
	tests/tiering/pmem_served.sh \
	tests/tiering/hugepages.sh \
	tests/tiering/cuda_pin.sh \
	tests/tiering/replay_reference.sh \
	tests/tiering/replay_cli.sh \
	tests/tiering/replay_bytes_rule.sh \
	tests/tiering/live_vs_replay.sh \
	tests/tiering/per_layer.sh
TESTS += $(TIERING_UNIT_TESTS) $(TIERING_SCRIPT_TESTS)
QEMU_TESTS += tests/tiering/guest_tiers.sh
EXTRA_DIST += $(TIERING_SCRIPT_TESTS) tests/tiering/guest_tiers.sh tests/tiering/golden
