/*
 * test_devdax_layout_standin: the devdax record layout and its lookup, with a
 * REGULAR FILE STANDING IN FOR THE DEVICE. This is a unit test of the layout
 * math and the record (tiering/stage.c), not of device-dax: no real
 * /dev/daxX.Y exists on the test hosts, and a regular file has no device
 * alignment (the page size stands in for it). The real device is exercised
 * by tests/stage/guest_stage.c in the qemu guest.
 *
 * It lays out a two-part "model" with moetier_stage_devdax_layout, writes the
 * image the way `moetier stage` writes a device (copies at their offsets,
 * entries, then the sealed header), and checks what moetier_stage_find and
 * moetier_stage_check_full make of it, intact and damaged.
 */
#include "tiering/stage.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/moetier-standin-XXXXXX";
static char part[2][PATH_MAX], other[PATH_MAX], img[PATH_MAX], slow[PATH_MAX + 8];
static unsigned char *data[2];
static const uint64_t sizes[2] = { (5u << 20) + 123, 70000 };

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void poke(uint64_t off, unsigned char x)
{
    int fd = open(img, O_RDWR);
    unsigned char b;
    CHECK(fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1);
    b ^= x;
    CHECK(pwrite(fd, &b, 1, (off_t)off) == 1);
    close(fd);
}

static const char *find(const char *model, struct moetier_stage_copy *c, int *rc)
{
    static char why[1024];
    *rc = moetier_stage_find(slow, model, c, why, sizeof why);
    return why;
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const uint64_t align = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t offs[2], area, end;
    struct moetier_stage_entry e[2];
    struct moetier_stage_header h;
    struct moetier_stage_copy c;
    const char *why;
    int rc;

    srand(7);
    for (int i = 0; i < 2; i++) {
        snprintf(part[i], sizeof part[i], "%s/m-0000%d-of-00002.gguf", dir, i + 1);
        data[i] = malloc(sizes[i]);
        for (uint64_t k = 0; k < sizes[i]; k++)
            data[i][k] = (unsigned char)rand();
        write_file(part[i], data[i], sizes[i]);
    }
    snprintf(other, sizeof other, "%s/other.gguf", dir);
    write_file(other, data[1], sizes[1]);
    snprintf(img, sizeof img, "%s/dax.img", dir);
    snprintf(slow, sizeof slow, "devdax:%s", img);

    /* the layout, as moetier stage computes it for the device */
    CHECK(moetier_stage_devdax_layout(sizes, 2, align, 64u << 20, offs, &area, &end) == 0);
    CHECK(area == align * ((moetier_stage_record_size(2) + align - 1) / align));
    CHECK(offs[0] == area && offs[1] % align == 0 && offs[1] >= offs[0] + sizes[0]);
    CHECK(moetier_stage_devdax_layout(sizes, 2, align, end - 1, offs, &area, &end) == -ENOSPC);

    /* the image: copies, then entries, then the header */
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)end) == 0);
    memset(e, 0, sizeof e);
    for (int i = 0; i < 2; i++) {
        struct stat st;
        CHECK(pwrite(fd, data[i], sizes[i], (off_t)offs[i]) == (ssize_t)sizes[i]);
        CHECK(stat(part[i], &st) == 0);
        CHECK(realpath(part[i], e[i].orig_path) != NULL);
        e[i].size = sizes[i];
        e[i].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
        e[i].ino = st.st_ino;
        e[i].dev = st.st_dev;
        e[i].full_hash = moetier_stage_xxh64(data[i], sizes[i], 0);
        e[i].sample_hash = moetier_stage_sample_hash_mem(data[i], sizes[i]);
        e[i].offset = offs[i];
        e[i].align = align;
        e[i].file_index = (uint32_t)i;
        e[i].n_files = 2;
    }
    memset(&h, 0, sizeof h);
    h.flags = MOETIER_STAGE_F_DEVDAX;
    h.area_size = area;
    h.device_size = end;
    moetier_stage_record_seal(&h, e, 2);
    CHECK(pwrite(fd, e, sizeof e, sizeof h) == (ssize_t)sizeof e);
    CHECK(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);

    /* found, at the offsets of the layout */
    for (int i = 0; i < 2; i++) {
        why = find(part[i], &c, &rc);
        CHECK(rc == 0);
        if (rc)
            fprintf(stderr, "find %s: %s\n", part[i], why);
        CHECK(rc == 0 && c.is_devdax == 1 && c.offset == offs[i] && c.size == sizes[i] && c.align == align);
        CHECK(strcmp(c.path, img) == 0);
    }
    /* through a relative path too */
    CHECK(chdir(dir) == 0);
    find("m-00002-of-00002.gguf", &c, &rc);
    CHECK(rc == 0 && c.offset == offs[1]);
    struct moetier_stage_full full;
    CHECK(moetier_stage_check_full(slow, part[0], &full, NULL, 0) == 0 && full.copy == e[0].full_hash);

    /* a file the record does not name */
    why = find(other, &c, &rc);
    CHECK(rc == -ENOENT && strstr(why, "not of") != NULL);

    /* a byte of the copy in a sampled block: stale; outside every block: only --check sees it */
    uint64_t boff, blen, noff, nlen;
    moetier_stage_sample_block(sizes[0], 20, &boff, &blen);
    moetier_stage_sample_block(sizes[0], 21, &noff, &nlen);
    CHECK(boff + blen < noff);
    poke(offs[0] + boff + 100, 0x40);
    why = find(part[0], &c, &rc);
    CHECK(rc == -ESTALE && strstr(why, "damaged copy") != NULL);
    CHECK(moetier_stage_check_full(slow, part[0], &full, NULL, 0) == -ESTALE);
    poke(offs[0] + boff + 100, 0x40);
    poke(offs[0] + boff + blen, 0x40); /* the first byte after block 20 */
    find(part[0], &c, &rc);
    CHECK(rc == 0);
    CHECK(moetier_stage_check_full(slow, part[0], &full, NULL, 0) == -ESTALE && full.copy != full.recorded);
    poke(offs[0] + boff + blen, 0x40);
    CHECK(moetier_stage_check_full(slow, part[0], &full, NULL, 0) == 0);

    /* the header: no magic = nothing staged (an interrupted stage); one bit = damaged */
    poke(0, 0xff);
    why = find(part[0], &c, &rc);
    CHECK(rc == -ENOENT && strstr(why, "no stage record") != NULL);
    poke(0, 0xff);
    poke(sizeof h + 4096 + 7, 0x01); /* inside entry 0 (its copy_name) */
    why = find(part[0], &c, &rc);
    CHECK(rc == -EBADMSG && strstr(why, "checksum") != NULL);
    poke(sizeof h + 4096 + 7, 0x01);
    find(part[0], &c, &rc);
    CHECK(rc == 0);

    /* a device smaller than the record says: the copy is not served */
    CHECK(truncate(img, (off_t)offs[1]) == 0);
    why = find(part[1], &c, &rc);
    CHECK(rc == -EBADMSG && strstr(why, "outside the device") != NULL);
    find(part[0], &c, &rc);
    CHECK(rc == 0);
    CHECK(truncate(img, (off_t)end) == 0);

    /* the original modified (mtime): stale */
    struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 5 } };
    CHECK(utimensat(AT_FDCWD, part[1], ts, 0) == 0);
    why = find(part[1], &c, &rc);
    CHECK(rc == -ESTALE && strstr(why, "modified") != NULL);

    /* the original replaced by another file (a new inode) */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", part[0]);
    write_file(tmp, data[0], sizes[0]);
    CHECK(rename(tmp, part[0]) == 0);
    why = find(part[0], &c, &rc);
    CHECK(rc == -ESTALE && strstr(why, "another file") != NULL);

    for (int i = 0; i < 2; i++) {
        unlink(part[i]);
        free(data[i]);
    }
    unlink(other);
    unlink(img);
    rmdir(dir);
    return check_exit("test_devdax_layout_standin");
}
