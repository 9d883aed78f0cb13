# tests/qemu.mk: the real-kernel tests, run inside a qemu guest with a CPU-less
# NUMA node, an emulated NVDIMM (fsdax, devdax) and KMEM-DAX (tests/qemu/run-guest;
# docs/qemu-tests.md). `make check-qemu` runs only these; they are part of
# `make check` too. Other areas add their guest tests with `QEMU_TESTS += ...`.
QEMU_GUEST_PROGS = tests/bin/guest_kernel_paths
check_PROGRAMS += $(QEMU_GUEST_PROGS)
tests_bin_guest_kernel_paths_SOURCES = tests/qemu/guest_kernel_paths.c
tests_bin_guest_kernel_paths_CFLAGS = $(AM_CFLAGS) $(NUMA_CFLAGS) $(PMEM2_CFLAGS)
tests_bin_guest_kernel_paths_LDADD = $(NUMA_LIBS) $(PMEM2_LIBS)

QEMU_TESTS += tests/qemu/kernel_paths.sh
TESTS += $(QEMU_TESTS)
EXTRA_DIST += $(QEMU_TESTS) tests/qemu/run-guest tests/qemu/guest-kernel tests/qemu/guest-init

check-qemu:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(QEMU_TESTS)'
.PHONY: check-qemu
