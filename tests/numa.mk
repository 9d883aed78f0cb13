# tests/numa.mk: (being written)
