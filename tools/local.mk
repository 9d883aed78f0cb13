# tools/: the moetier command.
bin_PROGRAMS += tools/moetier
tools_moetier_SOURCES = \
	tools/moetier.c \
	tools/cmd_inspect.c \
	tools/cmd_mkmoe.c \
	tools/cli.c tools/cli.h
tools_moetier_LDADD = profiler/libprofiler.la common/libcommon.la -lm
