# tiering/: the DRAM expert cache's policies and the trace replay that measures them.
noinst_LTLIBRARIES += tiering/libtiering.la
tiering_libtiering_la_SOURCES = \
	tiering/policy.c tiering/policy.h \
	tiering/replay.c tiering/replay.h
