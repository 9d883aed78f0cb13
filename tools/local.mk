# tools/: the moetier command.
bin_PROGRAMS += tools/moetier
tools_moetier_SOURCES = \
	tools/moetier.c \
	tools/cli.c tools/cli.h \
	tools/cmd_inspect.c \
	tools/cmd_mkmoe.c \
	tools/cmd_trace.c \
	tools/system_probe.c tools/system_probe.h \
	tools/cmd_replay.c \
	tools/cmd_sim.c tools/hw_presets.c tools/hw_presets.h tools/sim_shape.c tools/sim_shape.h \
	tools/cmd_run.c \
	tools/cmd_stat.c \
	tools/cmd_top.c \
	tools/cmd_heatmap.c \
	tools/cmd_profile.c \
	tools/cmd_doctor.c tools/doctor_plan.c tools/doctor_plan.h \
	tools/cmd_set.c \
	tools/cmd_stage.c \
	tools/cmd_bench.c tools/bench.c tools/bench.h tools/bench_mem.c tools/bench_tier.c tools/bench_exact.c \
	tools/proc_pick.c tools/proc_pick.h \
	tools/heatmap.h tools/heatmap_color.c tools/heatmap_ansi.c \
	tools/heatmap_svg.c tools/heatmap_png.c tools/png_canvas.c tools/png_canvas.h \
	tools/plot_png.h tools/plot_lines.c tools/plot_residency.c \
	tools/gguf_writer.c tools/gguf_writer.h \
	tools/quant.c tools/quant.h \
	tools/mkmoe_vocab.c tools/mkmoe_vocab.h \
	tools/mkmoe_shape.c tools/mkmoe_shape.h \
	tools/mkmoe_arch.c tools/mkmoe_arch.h \
	tools/mkmoe_preset.c tools/mkmoe_preset.h \
	tools/mkmoe_reftext.c tools/mkmoe_reftext.h
# moetier run finds the preload library beside itself in a build tree, else installed
tools_moetier_CPPFLAGS = $(AM_CPPFLAGS) $(PNG_CFLAGS) $(PMEM2_CFLAGS) \
	-DMOETIER_PKGLIBDIR='"$(pkglibdir)"' \
	-DMOETIER_BUILD_SHIM='"$(abs_top_builddir)/shim/.libs/libmoetier.so"'
tools_moetier_LDADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la $(PNG_LIBS) $(PMEM2_LIBS) -lm
