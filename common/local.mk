# common/: helpers every part uses (formatting, logging, sizes, JSON).
noinst_LTLIBRARIES += common/libcommon.la
common_libcommon_la_SOURCES = \
	common/fmt.c common/fmt.h \
	common/log.c common/log.h \
	common/size.c common/size.h \
	common/json.c common/json.h \
	common/config.c common/config.h \
	common/meminfo.c common/meminfo.h \
	common/memlock.c common/memlock.h \
	common/lock_rank.c common/lock_rank.h \
	common/private_dir.c common/private_dir.h \
	common/fail_point.c common/fail_point.h \
	common/hash.c common/hash.h \
	common/number.c common/number.h \
	common/page.c common/page.h \
	common/sysfs.c common/sysfs.h \
	common/rng.h
