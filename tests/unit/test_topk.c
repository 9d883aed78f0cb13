/*
 * test_topk: the routing sampler's pure half (profiler/routing_sampler.c):
 * names, block -> layer, every check against the expert map, and the per-step
 * result, with no llama.cpp.
 */
#include "profiler/routing_sampler.h"
#include "check.h"

#include <errno.h>
#include <string.h>

int main(void)
{
    static int32_t blocks[] = { 1, 2, 5 }; /* block 0, 3, 4: dense */
    struct moetier_model m = { .n_layers = 3, .n_experts = 8, .blocks = blocks };
    struct moetier_topk r;
    uint8_t used[3 * 8];

    CHECK(moetier_topk_init(&r, &m, 9) == -EINVAL); /* more used than experts */
    CHECK(moetier_topk_init(&r, &m, 0) == -EINVAL);
    CHECK(moetier_topk_init(&r, &m, 2) == 0);

    CHECK(moetier_topk_block_of("ffn_moe_topk-0") == 0);
    CHECK(moetier_topk_block_of("ffn_moe_topk-17") == 17);
    CHECK(moetier_topk_block_of("ffn_moe_topk-") == -1);
    CHECK(moetier_topk_block_of("ffn_moe_topk-3 (view)") == -1);
    CHECK(moetier_topk_block_of("ffn_moe_argsort-3") == -1);
    CHECK(moetier_topk_block_of("ffn_moe_weights-3") == -1);
    CHECK(moetier_topk_block_of(NULL) == -1);
    CHECK(moetier_model_layer_of_block(&m, 1) == 0);
    CHECK(moetier_model_layer_of_block(&m, 5) == 2);
    CHECK(moetier_model_layer_of_block(&m, 3) == -1);
    CHECK(moetier_model_layer_of_block(&m, 9) == -1);

    /* a good step: every layer once, ids in ggml's order */
    const int32_t a[] = { 3, 1 }, b[] = { 0, 7 }, c[] = { 6, 2 };
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 2, 1, a) == 0);
    CHECK(moetier_topk_add(&r, 2, 2, 1, b) == 0);
    CHECK(moetier_topk_add(&r, 5, 2, 1, c) == 0);
    memset(used, 0, sizeof used);
    CHECK(moetier_topk_collect(&r, used) == 6);
    CHECK(used[0 * 8 + 3] && used[0 * 8 + 1] && used[1 * 8 + 0] && used[1 * 8 + 7] && used[2 * 8 + 6] &&
          used[2 * 8 + 2]);
    int n = 0;
    for (size_t i = 0; i < sizeof used; i++)
        n += used[i];
    CHECK(n == 6);
    char line[64];
    moetier_topk_format(&r, line, sizeof line);
    CHECK_STR(line, "3,1 0,7 6,2");
    CHECK(r.steps == 1);

    /* each check refuses the step, and says which */
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 3, 2, 1, a) == -EBADMSG); /* a dense block */
    CHECK(strstr(r.why, "ffn_moe_topk-3") && strstr(r.why, "not a MoE layer"));
    CHECK(moetier_topk_collect(&r, used) == -EBADMSG);

    const int32_t three[] = { 1, 2, 3 };
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 3, 1, three) == -EBADMSG); /* the map says 2 experts per token */
    CHECK(strstr(r.why, "expert_used_count") != NULL);

    const int32_t big[] = { 1, 8 }, neg[] = { -1, 2 }, twice[] = { 4, 4 };
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 2, 1, big) == -EBADMSG);
    CHECK(strstr(r.why, "out of range") != NULL);
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 2, 1, neg) == -EBADMSG);
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 2, 1, twice) == -EBADMSG);
    CHECK(strstr(r.why, "twice") != NULL);

    moetier_topk_begin(&r); /* a layer missing */
    CHECK(moetier_topk_add(&r, 1, 2, 1, a) == 0);
    CHECK(moetier_topk_add(&r, 5, 2, 1, c) == 0);
    CHECK(moetier_topk_collect(&r, used) == -EBADMSG);
    CHECK(strstr(r.why, "block 2") != NULL);

    moetier_topk_begin(&r); /* a layer twice */
    CHECK(moetier_topk_add(&r, 1, 2, 1, a) == 0);
    CHECK(moetier_topk_add(&r, 1, 2, 1, a) == -EBADMSG);

    moetier_topk_begin(&r); /* the first reason is the one kept */
    moetier_topk_fail(&r, "cannot read it");
    CHECK(moetier_topk_add(&r, 3, 2, 1, a) == -EBADMSG);
    CHECK_STR(r.why, "cannot read it");

    /* two tokens: both columns count, the last is the one formatted */
    const int32_t two[] = { 0, 1, 2, 3 };
    moetier_topk_begin(&r);
    CHECK(moetier_topk_add(&r, 1, 2, 2, two) == 0);
    CHECK(r.used[0] && r.used[1] && r.used[2] && r.used[3] && !r.used[4]);
    moetier_topk_free(&r);
    return check_exit("test_topk");
}
