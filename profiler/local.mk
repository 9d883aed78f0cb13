# profiler/: knows the model (GGUF, expert map, routing files) and watches it run.
noinst_LTLIBRARIES += profiler/libprofiler.la
profiler_libprofiler_la_SOURCES = \
	profiler/ggml_types.c profiler/ggml_types.h
profiler_libprofiler_la_LIBADD = common/libcommon.la
