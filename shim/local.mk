# shim/: libmoetier.so, the LD_PRELOAD library.
pkglib_LTLIBRARIES = shim/libmoetier.la
shim_libmoetier_la_SOURCES = \
	shim/shim.h \
	shim/real.c \
	shim/alloc.c \
	shim/hooks_io.c \
	shim/hooks_mmap.c \
	shim/hooks_llama.c \
	shim/hooks_sched.c \
	shim/reads.c \
	shim/read_room.c \
	shim/hooks_signal.c \
	shim/tiering.c \
	shim/staged.c \
	shim/runtime.c \
	shim/plan.c
# -fno-builtin: the malloc family here must be compiled as plain functions
shim_libmoetier_la_CFLAGS = $(PRELOAD_CFLAGS) -fno-builtin -fvisibility=default
# $ORIGIN: libmoetier-jemalloc.so lies beside it, built (.libs) and installed
# --gc-sections: the libraries below come in whole (libtool convenience
# archives), with code only the tools run (replay, the tier models, JSON,
# routing files); the linker keeps what the exported hooks can reach
shim_libmoetier_la_LDFLAGS = $(PRELOAD_LDFLAGS) -module -avoid-version -shared -Wl,-z,nodelete \
	-Wl,--version-script=$(srcdir)/shim/exports.map -Wl,-rpath,'$$ORIGIN' -Wl,--gc-sections
EXTRA_DIST += shim/exports.map shim/jemalloc.map
# PRELOAD_LIBS: the libraries for what is built with PRELOAD_CFLAGS (Makefile.am)
if SANITIZERS
# the libraries again, UBSan only (configure.ac: sanitizers)
noinst_LTLIBRARIES += shim/libpreload.la
shim_libpreload_la_SOURCES = $(tiering_libtiering_la_SOURCES) $(profiler_libprofiler_la_SOURCES) \
	$(common_libcommon_la_SOURCES)
shim_libpreload_la_CFLAGS = $(PRELOAD_CFLAGS)
PRELOAD_LIBS = shim/libpreload.la
else
PRELOAD_LIBS = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la
endif
shim_libmoetier_la_LIBADD = shim/libmoetier-jemalloc.la $(PRELOAD_LIBS) -ldl -lpthread -lm

# libmoetier-jemalloc.so: the numa:N slow arena's jemalloc, needed by
# libmoetier.so so that a plain LD_PRELOAD loads it at start-up (static TLS);
# jemalloc's PIC archive inside, every jemalloc symbol hidden (shim/jemalloc.c).
pkglib_LTLIBRARIES += shim/libmoetier-jemalloc.la
shim_libmoetier_jemalloc_la_SOURCES = shim/jemalloc.c
shim_libmoetier_jemalloc_la_CFLAGS = $(PRELOAD_CFLAGS)
shim_libmoetier_jemalloc_la_LDFLAGS = $(PRELOAD_LDFLAGS) -avoid-version -shared -Wl,-z,nodelete \
	-Wl,--version-script=$(srcdir)/shim/jemalloc.map
shim_libmoetier_jemalloc_la_LIBADD = $(JEMALLOC_PIC) -lpthread -ldl -lm
