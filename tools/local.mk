# tools/: the moetier command.
bin_PROGRAMS += tools/moetier
tools_moetier_SOURCES = \
	tools/moetier.c \
	tools/cli.c tools/cli.h \
	tools/cmd_inspect.c \
	tools/cmd_mkmoe.c \
	tools/cmd_trace.c \
	tools/gguf_writer.c tools/gguf_writer.h \
	tools/quant.c tools/quant.h \
	tools/mkmoe_vocab.c tools/mkmoe_vocab.h \
	tools/mkmoe_shape.c tools/mkmoe_shape.h \
	tools/mkmoe_reftext.c tools/mkmoe_reftext.h
tools_moetier_LDADD = profiler/libprofiler.la common/libcommon.la -lm
