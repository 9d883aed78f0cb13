/*
 * system_probe: reads the machine's tiers and limits (see system_probe.h).
 * Everything is best effort: a file that is missing leaves its fact unknown.
 */
#include "config.h"
#include "tools/system_probe.h"
#include "common/page.h"
#include "common/sysfs.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A small kernel file without its trailing newline and blanks: 0 or -errno. */
static int read_text(const char *path, char *buf, size_t cap)
{
    ssize_t n = moetier_read_text(path, buf, cap);
    if (n < 0)
        return (int)n;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* Is node `id` listed in a tier's nodelist like "0-1,3"? */
static int in_list(const char *list, int id)
{
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        if (id >= a && id <= b)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static void read_nodes(struct system_probe *p)
{
    DIR *d = opendir("/sys/devices/system/node");
    struct dirent *e;
    while (d && (e = readdir(d)) && p->n_nodes < PROBE_MAX_NODES) {
        int id;
        char tail;
        if (sscanf(e->d_name, "node%d%c", &id, &tail) != 1)
            continue;
        struct probe_node *n = &p->nodes[p->n_nodes++];
        n->id = id;
        n->tier = -1;
        char path[256], buf[4096];
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", id);
        n->has_cpu = read_text(path, buf, sizeof buf) == 0 && buf[0] != '\0';
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", id);
        if (read_text(path, buf, sizeof buf) == 0) {
            char *m = strstr(buf, "MemTotal:");
            if (m)
                n->mem_total = strtoull(m + 9, NULL, 10) * 1024;
        }
    }
    if (d)
        closedir(d);
    d = opendir("/sys/devices/virtual/memory_tiering");
    while (d && (e = readdir(d))) {
        int tier;
        if (sscanf(e->d_name, "memory_tier%d", &tier) != 1)
            continue;
        char path[400], list[256];
        snprintf(path, sizeof path, "/sys/devices/virtual/memory_tiering/%.255s/nodelist", e->d_name);
        if (read_text(path, list, sizeof list))
            continue;
        for (size_t i = 0; i < p->n_nodes; i++)
            if (in_list(list, p->nodes[i].id))
                p->nodes[i].tier = tier;
    }
    if (d)
        closedir(d);
}

static void read_pmem(struct system_probe *p)
{
    DIR *d = opendir("/sys/bus/nd/devices");
    struct dirent *e;
    while (d && (e = readdir(d)) && p->n_pmem < PROBE_MAX_PMEM) {
        if (strncmp(e->d_name, "region", 6) != 0 && strncmp(e->d_name, "namespace", 9) != 0)
            continue;
        char path[300], buf[128];
        snprintf(path, sizeof path, "/sys/bus/nd/devices/%s/size", e->d_name);
        uint64_t size = moetier_read_u64(path, 0);
        if (!size)
            continue;
        struct probe_pmem *m = &p->pmem[p->n_pmem++];
        snprintf(m->name, sizeof m->name, "%.63s", e->d_name);
        m->size = size;
        snprintf(path, sizeof path, "/sys/bus/nd/devices/%s/mode", e->d_name);
        if (read_text(path, buf, sizeof buf) == 0)
            snprintf(m->mode, sizeof m->mode, "%.31s", buf);
        /* the block or dax device under a namespace */
        const char *subs[] = { "block", "dax" };
        for (int s = 0; s < 2 && !m->dev[0]; s++) {
            snprintf(path, sizeof path, "/sys/bus/nd/devices/%s/%s", e->d_name, subs[s]);
            DIR *sd = opendir(path);
            struct dirent *se;
            while (sd && (se = readdir(sd)))
                if (se->d_name[0] != '.')
                    snprintf(m->dev, sizeof m->dev, "%.63s", se->d_name);
            if (sd)
                closedir(sd);
        }
    }
    if (d)
        closedir(d);
}

static void read_mounts(struct system_probe *p)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    char dev[128], path[256], type[32], opts[512];
    while (f && fscanf(f, "%127s %255s %31s %511s %*d %*d", dev, path, type, opts) == 4) {
        if (p->n_dax_mounts >= PROBE_MAX_MOUNTS)
            break;
        /* "dax" or "dax=always" among the options */
        char *o = strstr(opts, "dax");
        if (!o || (o != opts && o[-1] != ',') || (o[3] && o[3] != ',' && o[3] != '='))
            continue;
        struct probe_mount *m = &p->dax_mounts[p->n_dax_mounts++];
        snprintf(m->path, sizeof m->path, "%s", path);
        snprintf(m->dev, sizeof m->dev, "%s", dev);
        snprintf(m->fstype, sizeof m->fstype, "%s", type);
    }
    if (f)
        fclose(f);
}

static void probe_sampler_interfaces(struct system_probe *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        static volatile char page[1 << 13];
        page[0] = 1;
        uint64_t v = 0;
        p->pagemap_ok = pread(fd, &v, 8, (off_t)((uintptr_t)page / moetier_page_size() * 8)) == 8 && (v >> 63);
        close(fd);
    }
    /* process_madvise(MADV_DONTNEED) on a private scratch mapping of our own */
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pidfd >= 0 && m != MAP_FAILED) {
        struct iovec iov = { m, 4096 };
        p->process_madvise_ok = syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_DONTNEED, 0) == 4096;
    }
    if (m != MAP_FAILED)
        munmap(m, 4096);
    if (pidfd >= 0)
        close(pidfd);
}

/* The CPU features llama.cpp's CPU backend keys its weight repacking on
 * (ggml-cpu/repack.cpp of the pinned release: q4_0, q4_K, iq4_nl, mxfp4 with
 * AVX2; q2_K with AVX-512). */
static void probe_cpu(struct system_probe *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    p->cpu_avx2 = __builtin_cpu_supports("avx2") != 0;
    p->cpu_avx512 = __builtin_cpu_supports("avx512f") != 0;
#else
    (void)p;
#endif
}

void *system_probe_cudart(void)
{
    void *h = dlopen("libcudart.so", RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        h = dlopen("libcudart.so.12", RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        h = dlopen("libcudart.so.13", RTLD_LAZY | RTLD_LOCAL);
    return h;
}

void system_probe_read(struct system_probe *p)
{
    memset(p, 0, sizeof *p);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(p->kernel, sizeof p->kernel, "%.40s %.80s", u.sysname, u.release);
    read_nodes(p);
    read_pmem(p);
    read_mounts(p);
    char buf[8192];
    if (read_text("/proc/meminfo", buf, sizeof buf) == 0) {
        char *m;
        if ((m = strstr(buf, "HugePages_Total:")))
            p->hugepages_total = strtoull(m + 16, NULL, 10);
        if ((m = strstr(buf, "HugePages_Free:")))
            p->hugepages_free = strtoull(m + 15, NULL, 10);
        if ((m = strstr(buf, "Hugepagesize:")))
            p->hugepage_size = strtoull(m + 13, NULL, 10) * 1024;
    }
    if (read_text("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) == 0) {
        char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
        if (a && b && (size_t)(b - a - 1) < sizeof p->thp)
            snprintf(p->thp, sizeof p->thp, "%.*s", (int)(b - a - 1), a + 1);
    }
    p->max_map_count = moetier_read_u64("/proc/sys/vm/max_map_count", 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        p->memlock_soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
        p->memlock_hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max;
    }
    moetier_meminfo_read(&p->mem);
    probe_cpu(p);
    probe_sampler_interfaces(p);
    void *h = system_probe_cudart();
    p->cuda_runtime = h != NULL;
    if (h)
        dlclose(h);
    struct stat st;
    p->nvidia_device = stat("/dev/nvidia0", &st) == 0 || stat("/proc/driver/nvidia/version", &st) == 0;
}

const char *system_probe_slow_choice(const struct system_probe *p, char *why, size_t whylen)
{
    static char choice[80];
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (!p->nodes[i].has_cpu && p->nodes[i].mem_total) {
            snprintf(choice, sizeof choice, "numa:%d", p->nodes[i].id);
            snprintf(why, whylen, "node %d has memory and no CPUs (KMEM-DAX PMem or CXL)", p->nodes[i].id);
            return choice;
        }
    }
    if (p->n_dax_mounts)
        snprintf(why, whylen, "no CPU-less NUMA node: the model file's page cache is the slow tier (%s is a DAX "
                              "mount: moetier stage MODEL %s, then MOETIER_SLOW=pmem:%s)",
                 p->dax_mounts[0].path, p->dax_mounts[0].path, p->dax_mounts[0].path);
    else
        snprintf(why, whylen, "no CPU-less NUMA node: the model file's page cache is the slow tier (a DAX "
                              "mount or device-dax namespace serves a model once staged there: moetier stage)");
    return "file";
}
