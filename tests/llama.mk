# tests/llama.mk
