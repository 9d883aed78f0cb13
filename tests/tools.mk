# tests/tools.mk: the live-stats segment and profiles (profiler/stats.c,
# profiler/profile.c) and the commands that read them: moetier stat, top,
# heatmap, profile, run, doctor (docs/tools.md); moetier sim's tier models on
# hand-worked traces and its bad input (docs/sim.md); moetier bench (docs/bench.md).
#
#   make check TESTS='tests/bin/test_stats tests/tools/stat_json.sh ...'
#   REGEN=1 make check TESTS=tests/tools/heatmap_golden.sh    rewrite the goldens
TOOLS_UNIT_TESTS = tests/bin/test_stats tests/bin/test_profile
TOOLS_SH_TESTS = \
	tests/tools/cli_tools.sh \
	tests/tools/doctor_system.sh \
	tests/tools/stat_json.sh \
	tests/tools/stat_human.sh \
	tests/tools/stat_prometheus.sh \
	tests/tools/pick_process.sh \
	tests/tools/stale_cleanup.sh \
	tests/tools/corrupt_segment.sh \
	tests/tools/corrupt_profile.sh \
	tests/tools/private_files.sh \
	tests/tools/segment_removed.sh \
	tests/tools/profile_show.sh \
	tests/tools/heatmap_golden.sh \
	tests/tools/heatmap_png.sh \
	tests/tools/plot_png.sh \
	tests/tools/heatmap_svg.sh \
	tests/tools/heatmap_color.sh \
	tests/tools/top_plain.sh \
	tests/tools/top_terminal.sh \
	tests/tools/run_env.sh \
	tests/tools/run_bad_values.sh \
	tests/tools/doctor_config.sh \
	tests/tools/sim_models.sh \
	tests/tools/sim_cli.sh \
	tests/tools/bench_short.sh
TOOLS_GOLDEN = \
	tests/tools/golden/stat_segment.json \
	tests/tools/golden/stat_human.txt \
	tests/tools/golden/profile_show.txt \
	tests/tools/golden/profile_show.json \
	tests/tools/golden/heatmap_profile.json \
	tests/tools/golden/heatmap_profile.txt \
	tests/tools/golden/heatmap_segment.json \
	tests/tools/golden/heatmap_segment.txt \
	tests/tools/golden/heatmap_segment_w20.txt

check_PROGRAMS += $(TOOLS_UNIT_TESTS) tests/bin/stats_writer tests/bin/png_read
# moetier bench in the qemu guest: move_pages where a CPU-less node exists
QEMU_TESTS += tests/tools/bench_guest.sh
EXTRA_DIST += tests/tools/bench_guest.sh
TESTS += $(TOOLS_UNIT_TESTS) $(TOOLS_SH_TESTS)
EXTRA_DIST += $(TOOLS_SH_TESTS) $(TOOLS_GOLDEN) tests/tools/tools_lib.sh

tests_bin_test_stats_SOURCES = tests/tools/test_stats.c
tests_bin_test_stats_LDADD = profiler/libprofiler.la common/libcommon.la -lpthread
tests_bin_test_profile_SOURCES = tests/tools/test_profile.c
tests_bin_test_profile_LDADD = profiler/libprofiler.la common/libcommon.la
tests_bin_stats_writer_SOURCES = tests/tools/stats_writer.c
tests_bin_stats_writer_LDADD = profiler/libprofiler.la common/libcommon.la
tests_bin_png_read_SOURCES = tests/tools/png_read.c
tests_bin_png_read_CPPFLAGS = $(AM_CPPFLAGS) $(PNG_CFLAGS)
tests_bin_png_read_LDADD = $(PNG_LIBS)
