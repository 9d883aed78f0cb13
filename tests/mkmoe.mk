# tests/mkmoe.mk: the moetier command's conventions, mkmoe, moetier trace, and
# router shaping measured with the real llama.cpp.
MKMOE_TESTS = \
	tests/mkmoe/cli.sh \
	tests/mkmoe/deterministic.sh \
	tests/mkmoe/size.sh \
	tests/mkmoe/trace_cli.sh \
	tests/mkmoe/inspect_generated.sh \
	tests/mkmoe/skew_olmoe_c4.sh \
	tests/mkmoe/arch_deepseek2.sh \
	tests/mkmoe/arch_qwen3moe.sh \
	tests/mkmoe/kimi_grid.sh
TESTS += $(MKMOE_TESTS)
EXTRA_DIST += $(MKMOE_TESTS) tests/mkmoe/golden tests/mkmoe/arch_check.sh
