# man/: the manual pages. moetier(1) is written by hand (tests/install/man.sh
# checks it against every `moetier CMD --help`); moetier-env(7) is generated
# from moetier_config_table, so it cannot miss a variable.
dist_man1_MANS = man/moetier.1
nodist_man7_MANS = man/moetier-env.7
noinst_PROGRAMS += man/gen_env
man_gen_env_SOURCES = man/gen_env.c
man_gen_env_LDADD = common/libcommon.la
man/moetier-env.7: man/gen_env$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) man && man/gen_env$(EXEEXT) >$@.tmp && mv $@.tmp $@
CLEANFILES += man/moetier-env.7
