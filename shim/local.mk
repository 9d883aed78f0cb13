# shim/: libmoetier.so, the LD_PRELOAD library.
pkglib_LTLIBRARIES = shim/libmoetier.la
shim_libmoetier_la_SOURCES = \
	shim/shim.h \
	shim/real.c \
	shim/alloc.c \
	shim/hooks_io.c \
	shim/hooks_mmap.c \
	shim/hooks_llama.c \
	shim/hooks_signal.c \
	shim/tiering.c \
	shim/staged.c \
	shim/runtime.c
# -fno-builtin: the malloc family here must be compiled as plain functions
shim_libmoetier_la_CFLAGS = $(AM_CFLAGS) -fno-builtin -fvisibility=default
shim_libmoetier_la_LDFLAGS = -module -avoid-version -shared -Wl,-z,nodelete \
	-Wl,--version-script=$(srcdir)/shim/exports.map
EXTRA_DIST += shim/exports.map
shim_libmoetier_la_LIBADD = tiering/libtiering.la profiler/libprofiler.la common/libcommon.la -ldl -lpthread -lm
