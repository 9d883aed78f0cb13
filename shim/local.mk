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
	shim/hooks_signal.c \
	shim/tiering.c \
	shim/staged.c \
	shim/runtime.c
# -fno-builtin: the malloc family here must be compiled as plain functions
shim_libmoetier_la_CFLAGS = $(PRELOAD_CFLAGS) -fno-builtin -fvisibility=default
# $ORIGIN: libmoetier-jemalloc.so lies beside it, built (.libs) and installed
shim_libmoetier_la_LDFLAGS = $(PRELOAD_LDFLAGS) -module -avoid-version -shared -Wl,-z,nodelete \
	-Wl,--version-script=$(srcdir)/shim/exports.map -Wl,-rpath,'$$ORIGIN'
EXTRA_DIST += shim/exports.map shim/jemalloc.map
if SANITIZERS
# the libraries again, UBSan only, for the preload (configure.ac: sanitizers)
noinst_LTLIBRARIES += shim/libpreload.la
shim_libpreload_la_SOURCES = $(tiering_libtiering_la_SOURCES) $(profiler_libprofiler_la_SOURCES) \
	$(common_libcommon_la_SOURCES)
shim_libpreload_la_CFLAGS = $(PRELOAD_CFLAGS)
shim_libmoetier_la_LIBADD = shim/libmoetier-jemalloc.la shim/libpreload.la -ldl -lpthread -lm
else
shim_libmoetier_la_LIBADD = shim/libmoetier-jemalloc.la tiering/libtiering.la profiler/libprofiler.la \
	common/libcommon.la -ldl -lpthread -lm
endif

# libmoetier-jemalloc.so: the numa:N slow arena's jemalloc, needed by
# libmoetier.so so that a plain LD_PRELOAD loads it at start-up (static TLS);
# jemalloc's PIC archive inside, every jemalloc symbol hidden (shim/jemalloc.c).
pkglib_LTLIBRARIES += shim/libmoetier-jemalloc.la
shim_libmoetier_jemalloc_la_SOURCES = shim/jemalloc.c
shim_libmoetier_jemalloc_la_CFLAGS = $(PRELOAD_CFLAGS)
shim_libmoetier_jemalloc_la_LDFLAGS = $(PRELOAD_LDFLAGS) -avoid-version -shared -Wl,-z,nodelete \
	-Wl,--version-script=$(srcdir)/shim/jemalloc.map
shim_libmoetier_jemalloc_la_LIBADD = $(JEMALLOC_PIC) -lpthread -ldl -lm
