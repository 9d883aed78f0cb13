/* page_cache_model: plain mmap's page cache, one LRU list or the kernel's two (page_cache_model.h). */
#include "tiering/page_cache_model.h"
#include "profiler/routing_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { INACTIVE, ACTIVE }; /* the lru model keeps everything on INACTIVE */

/* unit flags */
#define CACHED 1
#define ON_ACTIVE 2
#define ACCESSED 4   /* the page tables' accessed bit, since the last scan */
#define REFERENCED 8 /* PG_referenced: accessed at the last scan too */

struct moetier_page_cache {
    enum moetier_page_cache_lists lists;
    int32_t *prev, *next; /* units on a list, head most recent */
    uint8_t *flags;
    uint64_t *shadow;     /* the eviction clock just after its eviction; 0: never evicted */
    int32_t head[2], tail[2];
    uint64_t n[2], cap, ratio, clock;
    int refaulted;        /* a refault activated a part since reclaim last ran */
};

static void unlink_unit(struct moetier_page_cache *c, int list, int32_t u)
{
    if (c->prev[u] >= 0)
        c->next[c->prev[u]] = c->next[u];
    else
        c->head[list] = c->next[u];
    if (c->next[u] >= 0)
        c->prev[c->next[u]] = c->prev[u];
    else
        c->tail[list] = c->prev[u];
    c->n[list]--;
}

static void push_head(struct moetier_page_cache *c, int list, int32_t u)
{
    c->prev[u] = -1, c->next[u] = c->head[list];
    if (c->head[list] >= 0)
        c->prev[c->head[list]] = u;
    c->head[list] = u;
    if (c->tail[list] < 0)
        c->tail[list] = u;
    c->n[list]++;
    if (list == ACTIVE)
        c->flags[u] |= ON_ACTIVE;
    else
        c->flags[u] &= ~ON_ACTIVE;
}

static void evict(struct moetier_page_cache *c, int32_t u)
{
    unlink_unit(c, INACTIVE, u);
    c->flags[u] = 0;
    c->shadow[u] = ++c->clock;
}

/* The kernel's reclaim of one part: shrink_active_list when the inactive
 * list is low, then the inactive tail by folio_check_references. */
static void reclaim_one(struct moetier_page_cache *c)
{
    /* prepare_scan_control: the active list is shrunk only when the inactive
     * list is low or refaults activated parts since the last reclaim (a new
     * working set); the latter takes one part from the active tail here */
    int deactivate_one = c->refaulted && c->n[ACTIVE] > 0;
    c->refaulted = 0;
    for (;;) {
        if (c->n[INACTIVE] * c->ratio < c->n[ACTIVE] || c->n[INACTIVE] == 0 || deactivate_one) {
            deactivate_one = 0;
            int32_t a = c->tail[ACTIVE];
            unlink_unit(c, ACTIVE, a);
            c->flags[a] &= ~ACCESSED; /* folio_referenced clears the bits */
            push_head(c, INACTIVE, a);
            continue;
        }
        int32_t t = c->tail[INACTIVE];
        uint8_t f = c->flags[t];
        if (!(f & ACCESSED)) {
            evict(c, t);
            return;
        }
        unlink_unit(c, INACTIVE, t);
        c->flags[t] = (uint8_t)((f & ~ACCESSED) | REFERENCED);
        push_head(c, f & REFERENCED ? ACTIVE : INACTIVE, t);
    }
}

void moetier_page_cache_read(struct moetier_page_cache *c, int32_t u, int used, int touched)
{
    if (c->cap == 0)
        return; /* nothing stays */
    if (c->lists == MOETIER_PAGE_CACHE_LRU) {
        if (c->n[INACTIVE] == c->cap)
            evict(c, c->tail[INACTIVE]);
        push_head(c, INACTIVE, u);
        c->flags[u] |= CACHED;
        return;
    }
    if (c->n[INACTIVE] + c->n[ACTIVE] == c->cap)
        reclaim_one(c);
    /* workingset_refault: evicted fewer evictions ago than the active list
     * holds, it would have stayed had the active list been inactive */
    int refault = c->shadow[u] && c->clock - c->shadow[u] <= c->n[ACTIVE];
    c->shadow[u] = 0;
    if (refault) {
        push_head(c, ACTIVE, u);
        c->refaulted = 1;
        c->clock++;
    } else {
        push_head(c, INACTIVE, u);
    }
    c->flags[u] |= CACHED | (used ? ACCESSED : 0) | (touched ? REFERENCED : 0);
}

void moetier_page_cache_use(struct moetier_page_cache *c, int32_t u)
{
    if (c->lists == MOETIER_PAGE_CACHE_LRU) {
        unlink_unit(c, INACTIVE, u);
        push_head(c, INACTIVE, u);
        return;
    }
    c->flags[u] |= ACCESSED;
}

int moetier_page_cache_new(enum moetier_page_cache_lists lists, int64_t units, uint64_t cap, uint64_t ratio,
                           struct moetier_page_cache **out)
{
    *out = NULL;
    if (units <= 0 || units > INT32_MAX || ratio < 1 ||
        (lists != MOETIER_PAGE_CACHE_LRU && lists != MOETIER_PAGE_CACHE_KERNEL))
        return -EINVAL;
    struct moetier_page_cache *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->lists = lists;
    c->prev = malloc(units * sizeof *c->prev);
    c->next = malloc(units * sizeof *c->next);
    c->flags = calloc(units, 1);
    c->shadow = calloc(units, sizeof *c->shadow);
    c->head[0] = c->head[1] = c->tail[0] = c->tail[1] = -1;
    c->cap = cap < (uint64_t)units ? cap : (uint64_t)units;
    c->ratio = ratio;
    if (!c->prev || !c->next || !c->flags || !c->shadow) {
        moetier_page_cache_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void moetier_page_cache_free(struct moetier_page_cache *c)
{
    if (!c)
        return;
    free(c->prev), free(c->next), free(c->flags), free(c->shadow);
    free(c);
}

int moetier_page_cache_state(const struct moetier_page_cache *c, int32_t u)
{
    if (!(c->flags[u] & CACHED))
        return MOETIER_PAGE_NOT_CACHED;
    return c->flags[u] & ON_ACTIVE ? MOETIER_PAGE_ACTIVE : MOETIER_PAGE_INACTIVE;
}

uint64_t moetier_page_cache_ratio(double cache_bytes)
{
    uint64_t gib = (uint64_t)(cache_bytes / (1024.0 * 1024 * 1024));
    return gib ? (uint64_t)sqrt(10.0 * (double)gib) : 1;
}

int moetier_tier_readaround(const struct moetier_routing *r, enum moetier_page_cache_lists lists,
                            double cache_bytes, double part_bytes, int parts, double window_bytes,
                            struct moetier_readaround_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r->routes || parts < 1 || part_bytes <= 0 || cache_bytes < 0 || window_bytes < 0)
        return -EINVAL;
    const int64_t E = r->experts, units = (int64_t)r->layers * parts * E;
    /* whole parts: the window reads at least the faulting one */
    int64_t w = (int64_t)(window_bytes / part_bytes);
    if (w < 1)
        w = 1;
    struct moetier_page_cache *c;
    int rc = moetier_page_cache_new(lists, units, (uint64_t)fmin(cache_bytes / part_bytes, (double)units),
                                    moetier_page_cache_ratio(cache_bytes), &c);
    if (rc)
        return rc;
    /* llama.cpp's load on the kernel lists: MAP_POPULATE touches every part in
     * file order (get_user_pages with FOLL_TOUCH: mapped, and PG_referenced),
     * so reclaim activates what it finds of them; not counted in bytes_read */
    if (lists == MOETIER_PAGE_CACHE_KERNEL && c->cap > 0)
        for (int64_t u = 0; u < units; u++)
            moetier_page_cache_read(c, (int32_t)u, 1, 1);
    for (uint64_t t = 0; t < r->tokens; t++)
        for (int l = 0; l < r->layers; l++)
            for (int k = 0; k < r->topk; k++) {
                int e = r->routes[(t * r->layers + l) * r->topk + k];
                for (int p = 0; p < parts; p++) {
                    int32_t u = (int32_t)(((int64_t)l * parts + p) * E + e);
                    out->accesses++;
                    if (c->flags[u] & CACHED) {
                        out->hits++;
                        moetier_page_cache_use(c, u);
                        continue;
                    }
                    out->windows++;
                    int64_t lo = u - w / 2;
                    if (lo < 0)
                        lo = 0;
                    int64_t hi = lo + w > units ? units : lo + w;
                    if (c->cap == 0) {
                        out->bytes_read += (double)(hi - lo) * part_bytes; /* nothing stays */
                        continue;
                    }
                    /* the lru model counts a window's cached neighbours as used */
                    for (int64_t v = lo; v < hi; v++)
                        if (v != u) {
                            if (!(c->flags[v] & CACHED)) {
                                moetier_page_cache_read(c, (int32_t)v, 0, 0);
                                out->bytes_read += part_bytes;
                            } else if (lists == MOETIER_PAGE_CACHE_LRU) {
                                moetier_page_cache_use(c, (int32_t)v);
                            }
                        }
                    /* the faulting part last: it is the one used, the most recent */
                    moetier_page_cache_read(c, u, 1, 0);
                    out->bytes_read += part_bytes;
                }
            }
    out->active_parts = c->n[ACTIVE];
    out->cached_parts = c->n[ACTIVE] + c->n[INACTIVE];
    moetier_page_cache_free(c);
    return 0;
}

int moetier_page_cache_lists_parse(const char *s, enum moetier_page_cache_lists *out)
{
    if (!strcmp(s, "lru"))
        *out = MOETIER_PAGE_CACHE_LRU;
    else if (!strcmp(s, "kernel"))
        *out = MOETIER_PAGE_CACHE_KERNEL;
    else
        return -EINVAL;
    return 0;
}

const char *moetier_page_cache_lists_name(enum moetier_page_cache_lists l)
{
    return l == MOETIER_PAGE_CACHE_LRU ? "lru" : "kernel";
}
