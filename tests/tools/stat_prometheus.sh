#!/bin/sh
# `moetier stat --prometheus`: the text exposition format (every sample line
# is NAME{LABELS} VALUE of a metric announced by # HELP and # TYPE), and the
# writer's values in the documented metrics.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --comm llama-cli
"$MOETIER" stat --prometheus > "$TMP/prom" || fail "stat --prometheus exited $?"
awk '
    /^# HELP / { help[$3] = 1; next }
    /^# TYPE / { if (!help[$3]) { print "TYPE before HELP: " $3; bad = 1 }
                 if ($4 != "counter" && $4 != "gauge") { print "type: " $0; bad = 1 }
                 type[$3] = 1; next }
    /^#/ { print "stray comment: " $0; bad = 1; next }
    {
        if ($0 !~ /^moetier_[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? -?[0-9.e+-]+$/) {
            print "bad sample line: " $0; bad = 1; next
        }
        name = $0; sub(/[{ ].*/, "", name)
        if (!type[name]) { print "sample before its TYPE: " name; bad = 1 }
        samples++
    }
    END { if (samples < 100) { print "only " samples " samples"; bad = 1 } exit bad }
' "$TMP/prom" || fail "not valid exposition format"

want() {
    grep -qxF "$1" "$TMP/prom" || fail "missing sample: $1"
}
want 'moetier_expert_hits_total{layer="8",expert="7"} 4007'
want 'moetier_expert_hits_total{layer="2",expert="0"} 1000'
want 'moetier_expert_rate{layer="8",expert="7"} 1'
want 'moetier_expert_rate{layer="2",expert="0"} 0.03125'
want 'moetier_expert_tier{layer="2",expert="7",tier="pinned"} 1'
want 'moetier_expert_tier{layer="8",expert="2",tier="mixed"} 1'
want 'moetier_tokens_total{phase="decode"} 1000'
want 'moetier_tokens_total{phase="prompt"} 200'
want 'moetier_tokens_total{phase="warmup"} 1'
want 'moetier_tokens_per_second 12.5'
want 'moetier_tier_bytes{tier="dram"} 67108864'
want 'moetier_tier_bytes{tier="slow"} 201326592'
want 'moetier_dram_budget_bytes 134217728'
want 'moetier_tier_experts{tier="dram"} 8'
want 'moetier_migrations_total{direction="promote"} 10'
want 'moetier_migrations_total{direction="demote"} 3'
want 'moetier_migrated_bytes_total{direction="promote"} 83886080'
want 'moetier_migrated_bytes_total{direction="demote"} 25165824'
want 'moetier_sampler_samples_total 50'
want 'moetier_slow_read_bytes_per_token{kind="direct"} 524288'
want 'moetier_slow_read_bytes_per_token{kind="promoted"} 83886.1'
want 'moetier_slow_read_bytes_per_token{kind="prefetched"} 0'
want 'moetier_sampled_expert_uses_total{result="hit"} 240'
want 'moetier_sampled_expert_uses_total{result="miss"} 80'
want 'moetier_dram_hit_ratio 0.75'
grep -q "^moetier_info{pid=\"$WPID\",comm=\"llama-cli\",model=\"/models/test-moe.gguf\"" "$TMP/prom" ||
    fail "moetier_info labels"
[ "$(grep -c '^moetier_expert_hits_total{' "$TMP/prom")" -eq 32 ] || fail "expected 32 expert hit series"
echo "PASS: $test_name"
