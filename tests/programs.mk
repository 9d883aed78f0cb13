# tests/programs.mk: llama.cpp's own, unmodified programs (llama-server,
# llama-completion, llama-bench, llama-quantize, ggml-rpc-server; built from the
# pinned release's source by scripts/setup-deps into deps/llama-bin) under
# moetier, each against a plain run on the same machine. They skip (77) where
# the programs were not built.
PROGRAM_TESTS = \
	tests/programs/server.sh \
	tests/programs/server_capped.sh \
	tests/programs/load_modes.sh \
	tests/programs/rpc.sh \
	tests/programs/quants.sh \
	tests/programs/kimi_grid.sh \
	tests/programs/model_rewrite.sh

TESTS += $(PROGRAM_TESTS)
EXTRA_DIST += $(PROGRAM_TESTS)
EXTRA_DIST += tests/programs/server_lib.sh tests/programs/soak.sh

# make check-long runs the 10-minute llama-server soak (SOAK_SECONDS)
check-long: soak-run
soak-run:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/programs/soak.sh
.PHONY: soak-run
