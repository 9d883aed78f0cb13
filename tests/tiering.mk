# tests/tiering.mk: the cache policies (unit tests on hand-made sequences) and
# moetier replay on the real ESFT traces (reference figures, golden output).
TIERING_UNIT_TESTS = tests/bin/test_policy
check_PROGRAMS += $(TIERING_UNIT_TESTS)
tests_bin_test_policy_SOURCES = tests/tiering/test_policy.c
tests_bin_test_policy_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
TIERING_SCRIPT_TESTS = \
	tests/tiering/replay_reference.sh \
	tests/tiering/replay_cli.sh
TESTS += $(TIERING_UNIT_TESTS) $(TIERING_SCRIPT_TESTS)
EXTRA_DIST += $(TIERING_SCRIPT_TESTS) tests/tiering/golden
