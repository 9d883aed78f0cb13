# tests/mkmoe.mk
