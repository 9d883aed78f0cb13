# tests/qemu.mk: (being written)
