# tiering/: the DRAM expert cache (memory, migration, engine), its policies and
# the trace replay that measures them, and the slow tiers.
noinst_LTLIBRARIES += tiering/libtiering.la
tiering_libtiering_la_SOURCES = \
	tiering/policy.c tiering/policy.h \
	tiering/policy_adapt.c tiering/policy_adapt.h \
	tiering/replay.c tiering/replay.h \
	tiering/tier_model.c tiering/tier_model.h \
	tiering/page_cache_model.c tiering/page_cache_model.h \
	tiering/tier_mm.c tiering/tier_mm.h \
	tiering/slot_set.c tiering/slot_set.h \
	tiering/demand_cache.c tiering/demand_cache.h \
	tiering/residency.c tiering/residency.h \
	tiering/step_ring.c tiering/step_ring.h \
	tiering/dram_cache.c tiering/dram_cache.h \
	tiering/migrate.c tiering/migrate.h \
	tiering/engine.c tiering/engine.h \
	tiering/plan.c tiering/plan.h tiering/plan_facts.c
# slow tiers (each file appends its own sources below)
tiering_libtiering_la_SOURCES += tiering/stage.c tiering/stage.h
tiering_libtiering_la_SOURCES += tiering/numa_tier.c tiering/numa_tier.h tiering/slow_arena.c tiering/slow_arena.h
