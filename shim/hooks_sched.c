/*
 * hooks_sched: the `routing` sampler's engine half: exact expert routing from
 * llama.cpp's graph scheduler.
 *
 * llama.cpp hands its scheduler an evaluation callback at every graph build
 * (process_ubatch: ggml_backend_sched_set_eval_callback(sched, cparams.cb_eval,
 * cparams.cb_eval_user_data), NULL unless the application set one); a reused
 * graph keeps whatever callback the scheduler holds, and the scheduler asks it
 * at compute time, node by node (ggml_backend_sched_compute_splits: ask=true
 * "do you want this node?", then ask=false with the node's data for those it
 * said yes to; false there cancels the rest of the split). Every node that is
 * observed splits the graph (a synchronisation), so the callback costs speed:
 * moetier installs its own only for the decode steps the runtime samples
 * (sample_due, MOETIER_SAMPLE_BUDGET) and puts the application's back right
 * after, by calling the real setter with the scheduler pointer it saw:
 *
 *  - ggml_backend_sched_set_eval_callback(sched, cb, ud): remembers (cb, ud)
 *    as the application's for that scheduler and the llama_context decoding on
 *    this thread; forwards them unchanged, except inside a sampled step, where
 *    moetier's callback goes in instead (a graph rebuilt during the step).
 *  - shim_routing_step(ctx, 1, keep_only) before a sampled llama_decode:
 *    moetier's callback on every scheduler of ctx whose graph is not kept
 *    (none with keep_only: that step is then read only if its graph is
 *    rebuilt and kept, else it goes unread); shim_routing_step(ctx, 0, 0)
 *    after it: the application's (cb, ud) again, exactly as llama.cpp last
 *    set them.
 *  - ggml_backend_sched_free: the scheduler goes away; forgotten first.
 *  - keep mode, where the scheduler has one backend (CPU-only builds):
 *    ggml_backend_sched_alloc_graph of a one-token decode graph marks its
 *    topk tensors and the argsort results they view as graph outputs
 *    (ggml_set_output) and plans the graph again (ggml_backend_sched_reserve:
 *    what llama.cpp's graph_reserve does; buffers only grow), so the allocator
 *    never reuses their memory; after a sampled step the ids are read straight
 *    from them. No callback, no split: a sample costs a few microseconds.
 *    Graphs are kept from the first one built wherever the routing sampler
 *    may run (llama.cpp reuses a decode graph for as long as its shape
 *    holds: one built before the sampler would stay unkept). A graph that
 *    cannot be kept (more than one backend, another layout) clears
 *    shim_routing_cheap() for good; a step whose graph is not kept uses the
 *    callback (installed at alloc_graph for a graph rebuilt inside the step)
 *    unless keep_only.
 *
 * moetier's callback asks for the `ffn_moe_topk-N` tensors and for whatever
 * the application's asks for (the application's ask runs for every node,
 * once, in the scheduler's order). In the data phase the application's
 * callback runs first for a node it asked for and its return value is the
 * one returned (moetier's own nodes return true); then moetier reads the ids
 * (after the application, which may rewrite them: what MUL_MAT_ID reads next
 * is what counts). Reading goes through ggml's exported functions (found at
 * run time): the name, ggml_nbytes and ggml_backend_tensor_get (any backend);
 * ne/nb come from the tensor's first fields (type, buffer, ne[4], nb[4], the
 * layout of ggml.h for years), checked once against ggml_nelements,
 * ggml_nrows, ggml_element_size and ggml_type_name before anything is read.
 * Checks against the expert map (profiler/routing_sampler.c); a failed one
 * refuses the step and the runtime falls back to the other samplers with one
 * line naming it.
 *
 * Locks: sched_lock is a leaf (nothing else is taken, and nothing is called
 * but the real setter, while it is held). A forked child is pass-through and
 * never takes it. Not reachable from signal handlers.
 */
#include "shim/shim.h"
#include "common/fmt.h"
#include "common/log.h"
#include "profiler/routing_sampler.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*eval_cb_t)(void *t, bool ask, void *ud);
typedef void (*set_cb_t)(void *sched, eval_cb_t cb, void *ud);

/* the first fields of ggml.h's struct ggml_tensor (GGML_MAX_DIMS 4,
 * GGML_MAX_OP_PARAMS 64, GGML_MAX_SRC 10), checked at run time */
struct tensor_head {
    int32_t type;
    void *buffer;
    int64_t ne[4];
    size_t nb[4];
    int32_t op;
    int32_t op_params[16];
    int32_t flags;
    void *src[10];
    void *view_src;
    size_t view_offs;
    void *data;
    char name[64];
};

#define SCHED_MAX 32

struct sched_entry {
    void *sched;          /* NULL: free */
    void *ctx;            /* the llama_context that last built a graph on it */
    eval_cb_t app_cb;     /* what llama.cpp last set: the application's */
    void *app_ud;
    int ours;             /* moetier's callback is installed now */
    void *last_t;         /* the node asked about last, and the application's answer */
    bool last_app;
    void **topk;          /* keep mode: [n_layers] the last graph's topk tensors, kept as outputs */
    int kept;             /* topk[] is the graph the scheduler allocated last (a decode graph) */
};

static struct sched_entry scheds[SCHED_MAX];
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static int table_full_said;

static void *real_set, *real_sched_free, *real_alloc_graph;
static void *fn_graph_n_nodes, *fn_graph_node, *fn_set_output, *fn_get_data, *fn_sched_sync, *fn_sched_reserve,
    *fn_sched_n_backends;
static int keep_ok = -1;           /* keep mode usable: -1 not yet known, 0 no, 1 yes */
static void *fn_get_name, *fn_nbytes, *fn_nelements, *fn_nrows, *fn_element_size, *fn_type_name, *fn_tensor_get;

static __thread void *tl_ctx;      /* the llama_context decoding on this thread */
static __thread int tl_routing;    /* this thread's decode step is sampled by routing */
static __thread int tl_n_tokens;
static __thread int tl_split;      /* moetier's callback ran in this step (the graph split) */
static __thread int tl_keep_only;  /* this sampled step may not split the graph */
static __thread int tl_unread;     /* this sampled step has a graph neither kept nor observed */
static __thread int tl_prompt;     /* this step is a prompt batch: read its experts in, sample nothing */
static int keep_refused;           /* a one-token decode graph could not be kept: keep mode does not apply */

static struct moetier_topk routing;
static int routing_ready;          /* routing initialized for the model */
static int layout_checked;         /* 1 ok, -1 refused */

/* The runtime acts inside the step, at each layer's router (the exact reads,
 * per-layer moves): a kept graph is observed through the callback too. */
static int act_per_layer(void)
{
    return shim.routing_reads || shim_decode_per_layer();
}

static set_cb_t real_setter(void)
{
    return (set_cb_t)shim_real_optional("ggml_backend_sched_set_eval_callback", &real_set);
}

/* Keep mode's functions, looked up once (get_name too: keep_graph may run
 * before the sampler is built). */
static int keep_symbols(void)
{
    if (keep_ok < 0)
        keep_ok = shim_real_optional("ggml_backend_sched_alloc_graph", &real_alloc_graph) &&
                  shim_real_optional("ggml_get_name", &fn_get_name) &&
                  shim_real_optional("ggml_graph_n_nodes", &fn_graph_n_nodes) &&
                  shim_real_optional("ggml_graph_node", &fn_graph_node) &&
                  shim_real_optional("ggml_set_output", &fn_set_output) &&
                  shim_real_optional("ggml_get_data", &fn_get_data) &&
                  shim_real_optional("ggml_backend_sched_synchronize", &fn_sched_sync) &&
                  shim_real_optional("ggml_backend_sched_reserve", &fn_sched_reserve) &&
                  shim_real_optional("ggml_backend_sched_get_n_backends", &fn_sched_n_backends);
    return keep_ok > 0;
}

int shim_routing_usable(char *why, size_t cap)
{
    static const char *const names[] = { "ggml_backend_sched_set_eval_callback", "ggml_get_name", "ggml_nbytes",
                                         "ggml_nelements", "ggml_nrows", "ggml_element_size", "ggml_type_name",
                                         "ggml_backend_tensor_get" };
    void **slots[] = { &real_set, &fn_get_name, &fn_nbytes, &fn_nelements, &fn_nrows, &fn_element_size,
                       &fn_type_name, &fn_tensor_get };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!shim_real_optional(names[i], slots[i])) {
            moetier_fmt(why, cap, "%s not found in the process (not llama.cpp?)", names[i]);
            return -ENOENT;
        }
    if (layout_checked < 0) {
        moetier_fmt(why, cap, "%s", routing.why[0] ? routing.why : "ggml's tensor layout is not the one expected");
        return -EPROTO;
    }
    if (!routing_ready) {
        const struct moetier_expert_map *m = shim.model.map;
        int64_t used = m ? m->n_expert_used : -1;
        if (used < 1 || used > MOETIER_TOPK_MAX_USED || (uint64_t)used > shim.model.n_experts) {
            moetier_fmt(why, cap, "the model has no usable expert_used_count (%lld)", (long long)used);
            return -EINVAL;
        }
        int rc = moetier_topk_init(&routing, &shim.model, (uint32_t)used);
        if (rc) {
            moetier_fmt(why, cap, "cannot set up: %s", strerror(-rc));
            return rc;
        }
        routing_ready = 1;
    }
    keep_symbols();
    return 0;
}

/* ---- reading a topk tensor (the decode thread, inside llama_decode) ---- */

static int check_layout(void *t)
{
    const struct tensor_head *h = t;
    int64_t (*nelements)(const void *) = (int64_t(*)(const void *))fn_nelements;
    int64_t (*nrows)(const void *) = (int64_t(*)(const void *))fn_nrows;
    size_t (*esize)(const void *) = (size_t(*)(const void *))fn_element_size;
    const char *(*tname)(int) = (const char *(*)(int))fn_type_name;
    int64_t n = 1;
    for (int i = 0; i < 4; i++)
        n *= h->ne[i] >= 0 && h->ne[i] < (1 << 24) ? h->ne[i] : -1;
    const char *type = h->type >= 0 && h->type < 64 ? tname(h->type) : NULL;
    if (n <= 0 || n != nelements(t) || nrows(t) != h->ne[1] * h->ne[2] * h->ne[3] || esize(t) != 4 ||
        h->nb[0] != 4 || !type || strcmp(type, "i32") != 0) {
        char why[200];
        moetier_fmt(why, sizeof why,
                    "ggml's tensor layout is not the one expected (ne from its first fields: %lld elements, ggml "
                    "says %lld; type %s)",
                    (long long)n, (long long)nelements(t), type ? type : "?");
        moetier_topk_fail(&routing, why);
        return -1;
    }
    return 1;
}

/* A prompt batch's topk tensor: every expert any of its tokens chose for the
 * layer, read in at once (shim_reads_batch) before the layer reads them; with
 * exact reads the kernel reads around nothing, so without this each page of
 * a prompt's experts was one synchronous fault (13 tokens: 4.3 s against
 * plain llama.cpp's 0.55 s under a cap). A shape it does not expect reads
 * nothing and fails nothing: the batch's faults read as before. */
static void read_batch(const struct tensor_head *h, int block)
{
    size_t (*nbytes)(const void *) = (size_t(*)(const void *))fn_nbytes;
    void (*get)(const void *, void *, size_t, size_t) = (void (*)(const void *, void *, size_t, size_t))fn_tensor_get;
    int64_t k = h->ne[0], n_tok = h->ne[1];
    uint32_t E = shim.model.n_experts;
    int l = moetier_model_layer_of_block(&shim.model, block);
    if (l < 0 || !E || k < 1 || k > MOETIER_TOPK_MAX_USED || n_tok < 1 || h->ne[2] != 1 || h->ne[3] != 1 ||
        (size_t)(n_tok - 1) * h->nb[1] + (size_t)k * sizeof(int32_t) > nbytes(h))
        return;
    int32_t col[MOETIER_TOPK_MAX_USED];
    int32_t *ids = malloc((size_t)E * sizeof *ids);
    uint8_t *seen = calloc(E, 1);
    int n = 0;
    for (int64_t i = 0; ids && seen && i < n_tok; i++) {
        get(h, col, (size_t)i * h->nb[1], (size_t)k * sizeof(int32_t));
        for (int64_t j = 0; j < k; j++)
            if (col[j] >= 0 && (uint32_t)col[j] < E && !seen[col[j]]) {
                seen[col[j]] = 1;
                ids[n++] = col[j];
            }
    }
    if (n)
        shim_reads_batch((uint32_t)l, ids, n);
    free(seen);
    free(ids);
}

/* advise: the step is still computing (the callback): read the layer's
 * chosen experts in now, before the layer reads them (shim/reads.c), and per
 * layer hand them to the policy now (shim_decode_layer) */
static void read_topk(void *t, int block, int advise)
{
    const struct tensor_head *h = t;
    if (!layout_checked)
        layout_checked = check_layout(t);
    if (layout_checked < 0) {
        moetier_topk_fail(&routing, "ggml's tensor layout is not the one expected");
        return;
    }
    if (tl_prompt) {
        if (advise && shim.routing_reads)
            read_batch(h, block);
        return;
    }
    size_t (*nbytes)(const void *) = (size_t(*)(const void *))fn_nbytes;
    void (*get)(const void *, void *, size_t, size_t) = (void (*)(const void *, void *, size_t, size_t))fn_tensor_get;
    char why[200];
    int64_t k = h->ne[0], n_tok = h->ne[1];
    if (k < 1 || k > MOETIER_TOPK_MAX_USED || h->ne[2] != 1 || h->ne[3] != 1 || n_tok != tl_n_tokens) {
        moetier_fmt(why, sizeof why, MOETIER_TOPK_NAME "%d: shape [%lld, %lld, %lld, %lld], expected "
                    "[expert_used_count %u, %d tokens, 1, 1]", block, (long long)k, (long long)n_tok,
                    (long long)h->ne[2], (long long)h->ne[3], routing.n_used, tl_n_tokens);
        moetier_topk_fail(&routing, why);
        return;
    }
    int32_t ids[MOETIER_TOPK_MAX_USED];
    size_t size = nbytes(t), len = (size_t)k * sizeof(int32_t);
    /* decode steps hold one token; the last column is the one kept */
    size_t off = (size_t)(n_tok - 1) * h->nb[1];
    if (off + len > size) {
        moetier_fmt(why, sizeof why, MOETIER_TOPK_NAME "%d: %zu bytes, column at %zu does not fit", block, size, off);
        moetier_topk_fail(&routing, why);
        return;
    }
    get(t, ids, off, len);
    moetier_topk_add(&routing, block, k, 1, ids);
    if (advise && act_per_layer()) {
        int l = moetier_model_layer_of_block(&shim.model, block);
        if (l >= 0 && shim.routing_reads)
            shim_reads_layer((uint32_t)l, ids, (int)k);
        if (l >= 0)
            shim_decode_layer((uint32_t)l, ids, (int)k);
    }
}

static bool moetier_cb(void *t, bool ask, void *ud)
{
    struct sched_entry *e = ud;
    eval_cb_t app = e->app_cb;
    const char *(*get_name)(const void *) = (const char *(*)(const void *))fn_get_name;
    if (ask) {
        bool mine = tl_routing && moetier_topk_block_of(get_name(t)) >= 0;
        if (mine)
            tl_split = 1; /* the scheduler splits the graph at every node this says yes to */
        bool app_need = app ? app(t, true, e->app_ud) : false;
        e->last_t = t;
        e->last_app = app_need;
        return mine || app_need;
    }
    bool ret = true;
    if (app && e->last_t == t && e->last_app)
        ret = app(t, false, e->app_ud);
    int block;
    if (tl_routing && !shim.child && (block = moetier_topk_block_of(get_name(t))) >= 0)
        read_topk(t, block, 1);
    return ret;
}

/* ---- the scheduler table ---- */

static struct sched_entry *entry_of(void *sched, int add)
{
    struct sched_entry *free_slot = NULL;
    for (int i = 0; i < SCHED_MAX; i++) {
        if (scheds[i].sched == sched)
            return &scheds[i];
        if (!scheds[i].sched && !free_slot)
            free_slot = &scheds[i];
    }
    if (!add || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->sched = sched;
    return free_slot;
}

void ggml_backend_sched_set_eval_callback(void *sched, eval_cb_t cb, void *ud)
{
    set_cb_t set = real_setter();
    if (!set)
        return;
    if (!shim.active || shim.child || shim_busy || !sched) {
        set(sched, cb, ud);
        return;
    }
    pthread_mutex_lock(&sched_lock);
    struct sched_entry *e = entry_of(sched, 1);
    if (!e) {
        pthread_mutex_unlock(&sched_lock);
        if (!table_full_said++)
            log_warn("routing sampler: more than %d graph schedulers; the others are not observed", SCHED_MAX);
        set(sched, cb, ud);
        return;
    }
    e->app_cb = cb;
    e->app_ud = ud;
    if (tl_ctx)
        e->ctx = tl_ctx;
    /* a graph rebuilt inside a sampled step: alloc_graph keeps its topk
     * tensors (read after the step) or installs moetier's callback; without
     * keep mode, moetier's callback now */
    e->ours = tl_routing && e->ctx == tl_ctx && keep_ok <= 0 && !tl_keep_only;
    if (e->ours) {
        set(sched, moetier_cb, e);
    } else {
        set(sched, cb, ud);
    }
    pthread_mutex_unlock(&sched_lock);
}

/* Keep mode: the decode graph's topk tensors (and what they view) become
 * graph outputs, so the allocator never reuses their memory and the ids are
 * still there when llama_decode returns: no callback, no graph split. Only
 * graphs of one-token decode steps, and only when every MoE layer has exactly
 * one topk tensor; otherwise the graph is left as it is. */
static int keep_layout(void *t)
{
    const struct tensor_head *h = t;
    const char *(*get_name)(const void *) = (const char *(*)(const void *))fn_get_name;
    void *(*get_data)(const void *) = (void *(*)(const void *))fn_get_data;
    if (get_name(t) == h->name && get_data(t) == h->data)
        return 1;
    log_info("routing sampler: ggml's tensor layout is not the one expected (name at +%ld, data %s); "
             "observing through the eval callback instead", (long)(get_name(t) - (const char *)t),
             get_data(t) == h->data ? "matches" : "differs");
    return 0;
}

/* Keep mode is wanted for the graphs built now: the routing sampler runs or
 * may run (not yet built, not refused by the configuration or a failure). */
static int keep_wanted(void)
{
    if (!shim.active || shim.child || shim_busy || shim.routing_failed || shim.sampler_fetch || !shim.model.n_layers)
        return 0;
    if (shim.sampler_built)
        return shim.sampler_routing && keep_ok > 0;
    return (shim.cfg.sampler == MOETIER_SAMPLER_AUTO || shim.cfg.sampler == MOETIER_SAMPLER_ROUTING) &&
           keep_symbols();
}

/* A one-token decode graph of e's context that cannot be kept: keep mode
 * does not apply to this process (one line; shim_routing_cheap() says 0). */
static void keep_refuse(const char *why)
{
    if (!keep_refused)
        log_info("routing sampler: %s; observing through the eval callback instead", why);
    keep_refused = 1;
}

/* Under sched_lock: tries to keep graph's topk tensors (e->kept). */
static void keep_graph(struct sched_entry *e, void *sched, void *graph)
{
    int (*n_nodes)(void *) = (int (*)(void *))fn_graph_n_nodes;
    void *(*node)(void *, int) = (void *(*)(void *, int))fn_graph_node;
    void (*set_output)(void *) = (void (*)(void *))fn_set_output;
    const char *(*get_name)(const void *) = (const char *(*)(const void *))fn_get_name;
    int (*n_backends)(void *) = (int (*)(void *))fn_sched_n_backends;
    bool (*reserve)(void *, void *) = (bool (*)(void *, void *))fn_sched_reserve;
    e->kept = 0;
    if (!tl_ctx || e->ctx != tl_ctx || tl_n_tokens != 1)
        return; /* not a decode step's graph */
    /* one backend only: the reserve below resets the scheduler's tensor
     * assignments, which with one backend are all the same anyway */
    if (n_backends(sched) != 1) {
        keep_refuse("the graph scheduler has more than one backend (keep mode needs one CPU backend)");
        return;
    }
    if (!e->topk && !(e->topk = calloc(shim.model.n_layers, sizeof *e->topk)))
        return;
    memset(e->topk, 0, shim.model.n_layers * sizeof *e->topk);
    uint32_t found = 0;
    for (int i = 0, n = n_nodes(graph); i < n; i++) {
        void *t = node(graph, i);
        int block = t ? moetier_topk_block_of(get_name(t)) : -1;
        if (block < 0)
            continue;
        int l = moetier_model_layer_of_block(&shim.model, block);
        if (l < 0 || e->topk[l]) {
            keep_refuse("the decode graph's " MOETIER_TOPK_NAME "N tensors do not match the expert map one per layer");
            return; /* the callback's checks will say what is wrong */
        }
        if (!keep_layout(t)) {
            keep_ok = 0;
            return;
        }
        e->topk[l] = t;
        found++;
    }
    if (found != shim.model.n_layers) {
        keep_refuse("the decode graph does not show every MoE layer's " MOETIER_TOPK_NAME "N tensor");
        return;
    }
    for (uint32_t l = 0; l < found; l++) {
        struct tensor_head *h = e->topk[l];
        set_output(h);
        if (h->view_src)
            set_output(h->view_src);
    }
    /* the allocator plans at reserve time and reuses the plan while the
     * graph's shape stays: plan this graph with its outputs kept (what
     * llama.cpp's own graph_reserve does; the compute buffer only grows) */
    e->kept = reserve(sched, graph);
    if (!e->kept)
        keep_refuse("cannot plan the decode graph with the expert ids kept");
}

bool ggml_backend_sched_alloc_graph(void *sched, void *graph)
{
    bool (*fn)(void *, void *) = (bool (*)(void *, void *))shim_real_optional("ggml_backend_sched_alloc_graph",
                                                                           &real_alloc_graph);
    if (!fn)
        return false;
    if (sched && graph && shim.active && !shim.child && !shim_busy) {
        int keep = keep_wanted();
        pthread_mutex_lock(&sched_lock);
        struct sched_entry *e = entry_of(sched, 0);
        if (e) {
            if (keep)
                keep_graph(e, sched, graph);
            else
                e->kept = 0; /* a new graph: the topk tensors kept before are gone with the old one */
            /* rebuilt inside a sampled step and not kept (or read during the
             * step: exact reads): observe it now */
            if ((!e->kept || act_per_layer()) && tl_routing && e->ctx == tl_ctx && !tl_keep_only && !e->ours) {
                set_cb_t set = real_setter();
                e->last_t = NULL;
                set(sched, moetier_cb, e);
                e->ours = 1;
            }
        }
        pthread_mutex_unlock(&sched_lock);
    }
    return fn(sched, graph);
}

void ggml_backend_sched_free(void *sched)
{
    void (*fn)(void *) = (void (*)(void *))shim_real_optional("ggml_backend_sched_free", &real_sched_free);
    if (!fn)
        return;
    if (sched && !shim.child) {
        pthread_mutex_lock(&sched_lock);
        struct sched_entry *e = entry_of(sched, 0);
        if (e) {
            e->sched = NULL;
            e->kept = 0;
            free(e->topk);
            e->topk = NULL;
        }
        pthread_mutex_unlock(&sched_lock);
    }
    fn(sched);
}

void shim_routing_enter(void *ctx, int n_tokens)
{
    tl_ctx = ctx;
    tl_n_tokens = n_tokens;
}

void shim_routing_step(void *ctx, int on, int keep_only)
{
    set_cb_t set = real_setter();
    if (!set)
        return;
    if (on) {
        moetier_topk_begin(&routing);
        tl_routing = 1;
        tl_split = 0;
        tl_keep_only = keep_only;
    }
    void *read_sched[SCHED_MAX], **read_topk_of[SCHED_MAX];
    int n_read = 0, n_entries = 0, observed = 0;
    pthread_mutex_lock(&sched_lock);
    for (int i = 0; i < SCHED_MAX; i++) {
        struct sched_entry *e = &scheds[i];
        if (!e->sched || e->ctx != ctx)
            continue;
        n_entries++;
        if (on && !e->ours && (!e->kept || act_per_layer()) && !keep_only) {
            /* a graph rebuilt in the step puts the application's back
             * (set_eval_callback) and is kept or observed at alloc_graph */
            e->last_t = NULL;
            set(e->sched, moetier_cb, e);
            e->ours = 1;
        } else if (!on && e->ours) {
            set(e->sched, e->app_cb, e->app_ud); /* exactly what llama.cpp last set */
            e->ours = 0;
            observed = 1;
        } else if (!on && e->kept) {
            read_sched[n_read] = e->sched;
            read_topk_of[n_read++] = e->topk;
            observed = 1;
        }
    }
    pthread_mutex_unlock(&sched_lock);
    /* keep mode: the step's graph is done; its topk tensors are still intact
     * (outputs) until the next step computes. The scheduler of a context is
     * only freed with the context, never during its own decode. */
    const char *(*get_name)(const void *) = (const char *(*)(const void *))fn_get_name;
    void (*sync)(void *) = (void (*)(void *))fn_sched_sync;
    for (int i = 0; i < n_read; i++) {
        sync(read_sched[i]); /* an asynchronous backend may still be computing */
        for (uint32_t l = 0; l < shim.model.n_layers; l++)
            read_topk(read_topk_of[i][l], moetier_topk_block_of(get_name(read_topk_of[i][l])), 0);
    }
    if (!on) {
        /* keep_only and a graph that was not kept (reused from before keep
         * mode, or refused): nothing read, the step goes unsampled. No
         * scheduler seen at all is the collect's failure, as before. */
        tl_unread = tl_keep_only && n_entries && !observed;
        tl_routing = 0;
        tl_keep_only = 0;
    }
}

void shim_routing_prompt(void *ctx, int on)
{
    tl_prompt = on;
    shim_routing_step(ctx, on, 0);
}

int shim_routing_split(void)
{
    return tl_split;
}

int shim_routing_cheap(void)
{
    return keep_ok > 0 && !keep_refused;
}

int shim_routing_collect(int decode_rc, uint8_t *used, char *why, size_t cap)
{
    if (decode_rc != 0)
        return 0; /* llama_decode failed or stopped early: nothing to learn, nothing wrong */
    if (tl_unread)
        return 0; /* a keep-only step whose graph was not kept: not sampled after all */
    int n = moetier_topk_collect(&routing, used);
    if (n < 0) {
        moetier_fmt(why, cap, "%s", routing.why);
        return n;
    }
    if (moetier_log_enabled(MOETIER_LOG_DEBUG)) {
        char line[900];
        moetier_topk_format(&routing, line, sizeof line);
        log_debug("routing: step %llu: %s", (unsigned long long)shim.tokens_decode, line);
    }
    return n;
}
