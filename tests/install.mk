# tests/install.mk: the installed tree (packaging/local.mk, man/local.mk).
#   make check TESTS='tests/install/install.sh tests/install/man.sh'
INSTALL_TESTS = tests/install/install.sh tests/install/man.sh
TESTS += $(INSTALL_TESTS)
EXTRA_DIST += $(INSTALL_TESTS)
