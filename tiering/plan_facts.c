/*
 * plan_facts: what the machine says, for the plan (plan.h). The one place the
 * shim and `moetier doctor` read memory, limits, the hugetlb pool, the NUMA
 * topology and the model's file sizes for a decision.
 */
#include "tiering/plan.h"
#include "common/meminfo.h"
#include "common/memlock.h"
#include "tiering/dram_cache.h"
#include "tiering/numa_tier.h"

#include <sys/stat.h>

void moetier_plan_gather_machine(struct moetier_plan_facts *f, struct moetier_numa_topo *topo, int memlock)
{
    struct moetier_meminfo mi;
    struct moetier_memlock ml;
    f->mem_known = moetier_meminfo_read(&mi) == 0;
    f->mem_base = f->mem_known ? moetier_meminfo_base(&mi) : 0;
    f->cgroup_limit = f->mem_known ? mi.cgroup_limit : 0;
    if (memlock) {
        f->memlock_known = moetier_memlock_read(&ml) == 0;
        f->memlock_room = f->memlock_known ? moetier_memlock_room(&ml) : 0;
    }
    f->huge_free = moetier_dram_cache_huge_free();
    f->numa = moetier_numa_discover(topo) == 0 ? topo : NULL;
}

void moetier_plan_add_file(struct moetier_plan_facts *f, const char *path)
{
    struct stat st;
    f->n_files++;
    if (stat(path, &st) == 0)
        f->model_bytes += (uint64_t)st.st_size;
}
