# tests/gguf.mk
