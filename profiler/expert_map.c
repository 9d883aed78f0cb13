/*
 * expert_map: routed experts of a parsed GGUF model as byte ranges (see
 * expert_map.h).
 *
 * Built in one pass over the model's tensors: names are classified (routed
 * expert tensor of block N, shared-expert tensor, anything else), routed ones
 * are validated and grouped by block, then every (layer, expert) gets its
 * slices. The parser already guarantees that tensor data is inside its file
 * and does not overlap, so slices of different experts never overlap either.
 * Sizes come from the parser (moetier_ggml_nbytes), so one expert's slice,
 * size / ne[2], is exact: size = row bytes * ne1 * ne2.
 */
#include "config.h"

#include "profiler/expert_map.h"

#include "common/fmt.h"
#include "profiler/ggml_types.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct moetier_expert_by_addr {
    int file;
    uint64_t off, size, nb2;
    size_t layer; /* index into layers[] */
    int slot;     /* index into the layer's tensor[] and the experts' range[] */
};

enum kind { OTHER, ROUTED, SHARED };

/* A routed expert tensor found by name. */
struct found {
    int layer;
    int part;
    int slot; /* range position: gate/gate_up 0, up 1, down 2 */
    const struct moetier_gguf_tensor *t;
};

static int set_err(char *err, size_t errcap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errcap, int code, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        moetier_vfmt(err, errcap, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *moetier_expert_part_name(int part)
{
    switch (part) {
    case MOETIER_EXPERT_GATE: return "gate";
    case MOETIER_EXPERT_UP: return "up";
    case MOETIER_EXPERT_DOWN: return "down";
    case MOETIER_EXPERT_GATE_UP: return "gate_up";
    default: return "?";
    }
}

/*
 * "blk.N.<suffix>" with N in decimal without leading zeros (so that one block
 * has one spelling) and at most MOETIER_EXPERT_MAX_BLOCK.
 */
static enum kind classify(const char *name, int *layer, int *part)
{
    static const struct {
        const char *suffix;
        enum kind kind;
        int part;
    } suffixes[] = {
        { "ffn_gate_exps.weight", ROUTED, MOETIER_EXPERT_GATE },
        { "ffn_up_exps.weight", ROUTED, MOETIER_EXPERT_UP },
        { "ffn_down_exps.weight", ROUTED, MOETIER_EXPERT_DOWN },
        { "ffn_gate_up_exps.weight", ROUTED, MOETIER_EXPERT_GATE_UP },
        { "ffn_gate_shexp.weight", SHARED, MOETIER_EXPERT_GATE },
        { "ffn_up_shexp.weight", SHARED, MOETIER_EXPERT_UP },
        { "ffn_down_shexp.weight", SHARED, MOETIER_EXPERT_DOWN },
    };
    if (strncmp(name, "blk.", 4) != 0)
        return OTHER;
    const char *p = name + 4;
    long n = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 6)
            return OTHER;
        n = n * 10 + (*p - '0');
    }
    if (digits == 0 || *p != '.' || (digits > 1 && name[4] == '0') || n > MOETIER_EXPERT_MAX_BLOCK)
        return OTHER;
    p++;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (strcmp(p, suffixes[i].suffix) == 0) {
            *layer = (int)n;
            *part = suffixes[i].part;
            return suffixes[i].kind;
        }
    }
    return OTHER;
}

static int cmp_found(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return (x->part > y->part) - (x->part < y->part);
}

static int cmp_addr(const void *a, const void *b)
{
    const struct moetier_expert_by_addr *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

/* Reads <arch>.<name> as a count into *out (-1 when absent or no arch). */
static int arch_count(const struct moetier_gguf *g, const char *arch, const char *name,
                      int64_t *out, char *err, size_t errcap)
{
    char key[256], q[200];
    *out = -1;
    if (!arch || strlen(arch) > 200)
        return 0;
    moetier_fmt(key, sizeof key, "%s.%s", arch, name);
    const struct moetier_gguf_value *v = moetier_gguf_kv_find(g, key);
    if (!v)
        return 0;
    uint32_t u;
    int rc = moetier_gguf_value_get_u32(v, &u);
    if (rc == -EINVAL)
        return set_err(err, errcap, -EBADMSG, "%s has type %s; it must be an integer",
                       moetier_gguf_sanitize(key, strlen(key), q, sizeof q),
                       moetier_gguf_type_name(v->type));
    int is_signed = v->type == MOETIER_GGUF_INT8 || v->type == MOETIER_GGUF_INT16 ||
                    v->type == MOETIER_GGUF_INT32 || v->type == MOETIER_GGUF_INT64;
    if (rc && is_signed)
        return set_err(err, errcap, -EBADMSG, "%s is %lld; it must be between 0 and 2^32-1",
                       moetier_gguf_sanitize(key, strlen(key), q, sizeof q), (long long)v->v.i);
    if (rc)
        return set_err(err, errcap, -EBADMSG, "%s is %llu; it must be below 2^32",
                       moetier_gguf_sanitize(key, strlen(key), q, sizeof q),
                       (unsigned long long)v->v.u);
    *out = u;
    return 0;
}

/* Checks one routed tensor's shape; fills its layer tensor entry. */
static int check_routed(const struct found *f, struct moetier_expert_tensor *et, char *err,
                        size_t errcap)
{
    const struct moetier_gguf_tensor *t = f->t;
    if (!(t->n_dims == 3 || (t->n_dims == 4 && t->ne[3] == 1)))
        return set_err(err, errcap, -EBADMSG,
                       "tensor '%s' has %u dimensions; expert tensors are 3-D [ne0, ne1, n_expert]",
                       t->name, t->n_dims);
    if (t->ne[2] == 0)
        return set_err(err, errcap, -EBADMSG, "tensor '%s' has no experts (ne[2] = 0)", t->name);
    if (t->size == 0)
        return set_err(err, errcap, -EBADMSG, "tensor '%s' is empty (shape [%lld, %lld, %lld])",
                       t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2]);
    if ((uint64_t)t->ne[2] > MOETIER_EXPERT_MAX_PER_LAYER)
        return set_err(err, errcap, -E2BIG, "tensor '%s' has %lld experts (the limit is %u)", t->name,
                       (long long)t->ne[2], MOETIER_EXPERT_MAX_PER_LAYER);
    et->part = f->part;
    et->type = t->type;
    et->ne[0] = t->ne[0];
    et->ne[1] = t->ne[1];
    et->ne[2] = t->ne[2];
    et->file = t->file;
    et->offset = t->offset;
    et->size = t->size;
    et->expert_bytes = t->size / (uint64_t)t->ne[2]; /* exact: size = nb2 * ne[2] */
    return 0;
}

static int add(uint64_t *sum, uint64_t v, char *err, size_t errcap)
{
    if (__builtin_add_overflow(*sum, v, sum))
        return set_err(err, errcap, -EBADMSG, "tensor sizes add up to more than 2^64 bytes");
    return 0;
}

void moetier_expert_map_free(struct moetier_expert_map *map)
{
    if (!map)
        return;
    free(map->architecture);
    free(map->layers);
    free(map->experts);
    free(map->by_addr);
    free(map);
}

int moetier_expert_map_build(const struct moetier_gguf_model *m, struct moetier_expert_map **out,
                             char *err, size_t errcap)
{
    struct moetier_expert_map *map = NULL;
    struct found *found = NULL;
    size_t n_found = 0;
    const char *arch = NULL;
    char q[200];
    int rc;

    if (err && errcap)
        err[0] = '\0';
    if (!m || !out)
        return set_err(err, errcap, -EINVAL, "bad argument");
    *out = NULL;
    const struct moetier_gguf *g0 = moetier_gguf_model_file(m, 0);
    size_t n_tensors = moetier_gguf_model_n_tensors(m);

    map = calloc(1, sizeof *map);
    found = calloc(n_tensors ? n_tensors : 1, sizeof *found);
    if (!map || !found) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto fail;
    }

    /* metadata */
    const struct moetier_gguf_value *av = moetier_gguf_kv_find(g0, "general.architecture");
    if (av) {
        size_t len;
        if (moetier_gguf_value_get_str(av, &arch, &len) != 0) {
            rc = set_err(err, errcap, -EBADMSG, "general.architecture has type %s; it must be a string",
                         moetier_gguf_type_name(av->type));
            goto fail;
        }
        if (!(map->architecture = strdup(arch))) {
            rc = set_err(err, errcap, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    int64_t expert_count;
    if ((rc = arch_count(g0, arch, "expert_count", &expert_count, err, errcap)) ||
        (rc = arch_count(g0, arch, "expert_used_count", &map->n_expert_used, err, errcap)) ||
        (rc = arch_count(g0, arch, "expert_shared_count", &map->n_expert_shared, err, errcap)) ||
        (rc = arch_count(g0, arch, "block_count", &map->block_count, err, errcap)))
        goto fail;
    if (expert_count > (int64_t)MOETIER_EXPERT_MAX_PER_LAYER) {
        rc = set_err(err, errcap, -E2BIG, "%s.expert_count %lld is more than the limit of %u",
                     moetier_gguf_sanitize(arch, strlen(arch), q, sizeof q), (long long)expert_count,
                     MOETIER_EXPERT_MAX_PER_LAYER);
        goto fail;
    }
    if (expert_count >= 0 && map->n_expert_used > expert_count) {
        rc = set_err(err, errcap, -EBADMSG, "%s.expert_used_count %lld is more than %s.expert_count %lld",
                     moetier_gguf_sanitize(arch, strlen(arch), q, sizeof q),
                     (long long)map->n_expert_used, q, (long long)expert_count);
        goto fail;
    }

    /* classify every tensor */
    for (size_t i = 0; i < n_tensors; i++) {
        const struct moetier_gguf_tensor *t = moetier_gguf_model_tensor(m, i);
        int layer = 0, part = 0;
        switch (classify(t->name, &layer, &part)) {
        case ROUTED:
            if (map->block_count >= 0 && layer >= map->block_count) {
                rc = set_err(err, errcap, -EBADMSG, "tensor '%s': block %d is not below %s.block_count %lld",
                             t->name, layer, moetier_gguf_sanitize(arch, strlen(arch), q, sizeof q),
                             (long long)map->block_count);
                goto fail;
            }
            found[n_found].layer = layer;
            found[n_found].part = part;
            found[n_found].slot = part == MOETIER_EXPERT_GATE_UP ? 0 : part;
            found[n_found].t = t;
            n_found++;
            break;
        case SHARED:
            map->n_shared_tensors++;
            if ((rc = add(&map->shared_expert_bytes, t->size, err, errcap)))
                goto fail;
            break;
        default:
            if ((rc = add(&map->other_bytes_total, t->size, err, errcap)))
                goto fail;
            break;
        }
    }
    qsort(found, n_found, sizeof *found, cmp_found);

    /* group by block */
    map->layers = calloc(n_found ? n_found : 1, sizeof *map->layers);
    map->by_addr = calloc(n_found ? n_found : 1, sizeof *map->by_addr);
    if (!map->layers || !map->by_addr) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < n_found; k++) {
        const struct found *f = &found[k];
        struct moetier_expert_layer *L;
        if (map->n_layers == 0 || map->layers[map->n_layers - 1].layer != f->layer) {
            L = &map->layers[map->n_layers++];
            L->layer = f->layer;
        } else {
            L = &map->layers[map->n_layers - 1];
            const struct moetier_expert_tensor *prev = &L->tensor[L->n_tensors - 1];
            int prev_slot = prev->part == MOETIER_EXPERT_GATE_UP ? 0 : prev->part;
            if (prev_slot == f->slot || (prev->part == MOETIER_EXPERT_GATE_UP && f->part == MOETIER_EXPERT_UP)) {
                rc = set_err(err, errcap, -EBADMSG,
                             "block %d has both ffn_%s_exps and ffn_%s_exps: a fused gate_up excludes a separate gate or up",
                             f->layer, moetier_expert_part_name(prev->part),
                             moetier_expert_part_name(f->part));
                goto fail;
            }
        }
        struct moetier_expert_tensor *et = &L->tensor[L->n_tensors];
        if ((rc = check_routed(f, et, err, errcap)))
            goto fail;
        if (map->n_expert == 0) {
            map->n_expert = (uint32_t)et->ne[2];
            if (expert_count >= 0 && (int64_t)map->n_expert != expert_count) {
                rc = set_err(err, errcap, -EBADMSG, "tensor '%s' has %lld experts (ne[2]), but %s.expert_count is %lld",
                             f->t->name, (long long)et->ne[2],
                             moetier_gguf_sanitize(arch, strlen(arch), q, sizeof q), (long long)expert_count);
                goto fail;
            }
        } else if ((uint64_t)et->ne[2] != map->n_expert) {
            rc = set_err(err, errcap, -EBADMSG, "tensor '%s' has %lld experts (ne[2]), but %s has %u",
                         f->t->name, (long long)et->ne[2], found[0].t->name, map->n_expert);
            goto fail;
        }
        L->expert_bytes += et->expert_bytes; /* <= the tensors' sizes: no overflow */
        struct moetier_expert_by_addr *a = &map->by_addr[map->n_by_addr++];
        a->file = et->file;
        a->off = et->offset;
        a->size = et->size;
        a->nb2 = et->expert_bytes;
        a->layer = map->n_layers - 1;
        a->slot = L->n_tensors;
        L->n_tensors++;
    }
    if (map->n_expert_used > 0 && map->n_expert && map->n_expert_used > (int64_t)map->n_expert) {
        rc = set_err(err, errcap, -EBADMSG, "%s.expert_used_count %lld is more than the %u experts per layer",
                     moetier_gguf_sanitize(arch, strlen(arch), q, sizeof q),
                     (long long)map->n_expert_used, map->n_expert);
        goto fail;
    }

    /* every (layer, expert) */
    if (map->n_layers && (uint64_t)map->n_layers * map->n_expert > MOETIER_EXPERT_MAX_TOTAL) {
        rc = set_err(err, errcap, -E2BIG, "%zu MoE layers x %u experts is more than the limit of %u experts",
                     map->n_layers, map->n_expert, MOETIER_EXPERT_MAX_TOTAL);
        goto fail;
    }
    map->n_experts = map->n_layers * map->n_expert;
    map->experts = calloc(map->n_experts ? map->n_experts : 1, sizeof *map->experts);
    if (!map->experts) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto fail;
    }
    size_t k = 0;
    for (size_t l = 0; l < map->n_layers; l++) {
        struct moetier_expert_layer *L = &map->layers[l];
        L->first = k;
        if (map->expert_bytes_min == 0 || L->expert_bytes < map->expert_bytes_min)
            map->expert_bytes_min = L->expert_bytes;
        if (L->expert_bytes > map->expert_bytes_max)
            map->expert_bytes_max = L->expert_bytes;
        for (uint32_t e = 0; e < map->n_expert; e++, k++) {
            struct moetier_expert *x = &map->experts[k];
            x->layer = L->layer;
            x->expert = (int)e;
            x->n_ranges = L->n_tensors;
            for (int r = 0; r < L->n_tensors; r++) {
                const struct moetier_expert_tensor *et = &L->tensor[r];
                x->range[r].off = et->offset + e * et->expert_bytes;
                x->range[r].len = et->expert_bytes;
                x->range[r].file = et->file;
                x->range[r].part = et->part;
            }
            x->bytes = L->expert_bytes;
        }
        /* layer bytes = n_expert * expert_bytes = the layer's tensors' sizes */
        if ((rc = add(&map->expert_bytes_total, L->expert_bytes * map->n_expert, err, errcap)))
            goto fail;
    }
    qsort(map->by_addr, map->n_by_addr, sizeof *map->by_addr, cmp_addr);

    free(found);
    *out = map;
    return 0;

fail:
    free(found);
    moetier_expert_map_free(map);
    return rc;
}

const struct moetier_expert *moetier_expert_map_find(const struct moetier_expert_map *map, int layer,
                                                     int expert)
{
    size_t lo = 0, hi = map->n_layers;
    if (expert < 0 || (uint32_t)expert >= map->n_expert)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct moetier_expert_layer *L = &map->layers[mid];
        if (L->layer == layer)
            return &map->experts[L->first + (size_t)expert];
        if (L->layer < layer)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int moetier_expert_map_locate(const struct moetier_expert_map *map, int file, uint64_t off,
                              const struct moetier_expert **e, int *range)
{
    /* the last tensor starting at or before (file, off) */
    size_t lo = 0, hi = map->n_by_addr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct moetier_expert_by_addr *a = &map->by_addr[mid];
        if (a->file < file || (a->file == file && a->off <= off))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -ENOENT;
    const struct moetier_expert_by_addr *a = &map->by_addr[lo - 1];
    if (a->file != file || off - a->off >= a->size)
        return -ENOENT;
    const struct moetier_expert_layer *L = &map->layers[a->layer];
    *e = &map->experts[L->first + (size_t)((off - a->off) / a->nb2)];
    *range = a->slot;
    return 0;
}
