# tests/mkmoe.mk: the moetier command's conventions, mkmoe, moetier trace, and
# router shaping measured with the real llama.cpp.
MKMOE_TESTS = \
	tests/mkmoe/cli.sh \
	tests/mkmoe/deterministic.sh \
	tests/mkmoe/size.sh \
	tests/mkmoe/trace_cli.sh \
	tests/mkmoe/inspect_generated.sh \
	tests/mkmoe/skew_olmoe_c4.sh
TESTS += $(MKMOE_TESTS)
EXTRA_DIST += $(MKMOE_TESTS) tests/mkmoe/golden
