# profiler/: knows the model (GGUF, expert map, routing files) and watches it run.
noinst_LTLIBRARIES += profiler/libprofiler.la
profiler_libprofiler_la_SOURCES = \
	profiler/ggml_types.c profiler/ggml_types.h \
	profiler/gguf.c profiler/gguf.h \
	profiler/expert_map.c profiler/expert_map.h \
	profiler/routing_file.c profiler/routing_file.h \
	profiler/model.c profiler/model.h \
	profiler/placement.c profiler/placement.h \
	profiler/sampler.c profiler/sampler.h \
	profiler/routing_sampler.c profiler/routing_sampler.h \
	profiler/hotness.c profiler/hotness.h \
	profiler/stats.c profiler/stats.h \
	profiler/profile.c profiler/profile.h
