# tests/stage.mk: moetier stage and the staged-copy record (tiering/stage.c,
# tools/cmd_stage.c, docs/stage.md).
#
#   make check TESTS='tests/bin/test_stage tests/stage/stage_fsdax.sh ...'
#
# test_devdax_layout_standin checks the devdax layout and record with a regular
# file standing in for the device (no device-dax on the test hosts);
# tests/bin/guest_stage is the real fsdax/devdax test, run in the qemu guest as
# `guest_stage PHASE` (tests/stage/guest_smoke.sh runs its fsdax phase on a host
# directory so that it cannot rot).
STAGE_UNIT_TESTS = tests/bin/test_stage tests/bin/test_devdax_layout_standin
STAGE_SH_TESTS = \
	tests/stage/stage_fsdax.sh \
	tests/stage/stage_private.sh \
	tests/stage/stage_stale.sh \
	tests/stage/stage_split.sh \
	tests/stage/stage_errors.sh \
	tests/stage/guest_smoke.sh
STAGE_GUEST_BINS = tests/bin/guest_stage
check_PROGRAMS += $(STAGE_UNIT_TESTS) tests/bin/stage_find $(STAGE_GUEST_BINS)
TESTS += $(STAGE_UNIT_TESTS) $(STAGE_SH_TESTS)
EXTRA_DIST += $(STAGE_SH_TESTS) tests/stage/stage_lib.sh

tests_bin_test_stage_SOURCES = tests/stage/test_stage.c
tests_bin_test_stage_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
tests_bin_test_devdax_layout_standin_SOURCES = tests/stage/test_devdax_layout_standin.c
tests_bin_test_devdax_layout_standin_LDADD = tiering/libtiering.la profiler/libprofiler.la \
	common/libcommon.la -lm
tests_bin_stage_find_SOURCES = tests/stage/stage_find.c
tests_bin_stage_find_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -lm
# the guest program carries `moetier stage` itself (no moetier binary in the guest)
tests_bin_guest_stage_SOURCES = tests/stage/guest_stage.c tools/cmd_stage.c tools/cli.c
tests_bin_guest_stage_CPPFLAGS = $(AM_CPPFLAGS) $(PMEM2_CFLAGS)
tests_bin_guest_stage_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la \
	$(PMEM2_LIBS) -lm
