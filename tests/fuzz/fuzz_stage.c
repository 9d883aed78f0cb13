/*
 * fuzz_stage: libFuzzer target for the stage record reader (tiering/stage.c),
 * which the shim runs on a record found on a PMem directory or at the start
 * of a device-dax device before it maps a staged copy in place of the model.
 *
 * Each input is a record (header + entries, zero-padded to one entry):
 *  1. as it is, through moetier_stage_record_check;
 *  2. made to pass the checksum, then located by moetier_stage_find as a
 *     pmem: record (DIR/model.gguf.moetier-stage) or as the head of a devdax
 *     stand-in (a regular file; stage.c accepts one for its layout tests).
 * Header byte 28 (reserved0, zeroed by the seal) steers step 2, so that the
 * mutations reach past the identity checks:
 *   bit 0  devdax instead of pmem:
 *   bit 1  entry k (header byte 29 mod n) names the model: path, inode,
 *          device, size, mtime and sample hash of DIR/model.gguf
 *   bit 2  pmem: its copy is DIR/copy.gguf (a true copy of the model);
 *          devdax: the model's bytes are placed at entry k's offset when that
 *          lies after the record and below 1 MiB
 * Besides ASan/UBSan findings, the target traps when a promise of stage.h is
 * broken: an unexpected code, a failure without a one-line reason, a sealed
 * record that fails its check for another reason than an entry's path, or a
 * copy served outside the device / outside DIR / misaligned.
 *
 * Build and run: make fuzz; make fuzz-run FUZZ_SECONDS=600 (tests/fuzz.mk).
 */
#include "config.h"

#include "tiering/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MODEL_BYTES 8192u

static char dir[96], model[160], record[192], copy[160], dax[160], slow_pmem[128], slow_dax[192];
static unsigned char content[MODEL_BYTES];
static struct stat model_st;
static uint64_t model_sample;

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "/dev/shm/moetier-fuzz-stage-XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "%s/moetier-fuzz-stage-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        if (!mkdtemp(dir))
            abort();
    }
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    snprintf(record, sizeof record, "%s/model.gguf%s", dir, MOETIER_STAGE_SUFFIX);
    snprintf(copy, sizeof copy, "%s/copy.gguf", dir);
    snprintf(dax, sizeof dax, "%s/dax", dir);
    snprintf(slow_pmem, sizeof slow_pmem, "pmem:%s", dir);
    snprintf(slow_dax, sizeof slow_dax, "devdax:%s", dax);
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (unsigned char)(i * 131 + (i >> 8));
    write_file(model, content, sizeof content);
    write_file(copy, content, sizeof content);
    if (stat(model, &model_st))
        abort();
    model_sample = moetier_stage_sample_hash_mem(content, sizeof content);
}

static void check_why(int rc, const char *why)
{
    if (rc)
        CHECK(why[0] && !strchr(why, '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model[0])
        setup();

    /* an aligned copy, zero-padded to at least one entry */
    size_t one = moetier_stage_record_size(1), len = size > one ? size : one;
    struct moetier_stage_header *h = calloc(1, len);
    if (!h)
        return 0;
    memcpy(h, data, size);
    char why[512];

    /* 1. as it is */
    why[0] = '\0';
    int rc = moetier_stage_record_check(h, size, why, sizeof why);
    CHECK(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
    check_why(rc, why);

    /* 2. sealed, then located */
    uint32_t n = (uint32_t)((len - sizeof *h) / sizeof(struct moetier_stage_entry));
    if (n > MOETIER_STAGE_MAX_FILES)
        n = MOETIER_STAGE_MAX_FILES;
    unsigned ctl = ((unsigned char *)h)[28], k = ((unsigned char *)h)[29] % n;
    struct moetier_stage_entry *e = (void *)(h + 1);
    if (ctl & 2) {
        snprintf(e[k].orig_path, sizeof e[k].orig_path, "%s", model);
        e[k].ino = (uint64_t)model_st.st_ino;
        e[k].dev = (uint64_t)model_st.st_dev;
        e[k].size = MODEL_BYTES;
        e[k].mtime_ns = (int64_t)model_st.st_mtim.tv_sec * 1000000000ll + model_st.st_mtim.tv_nsec;
        e[k].sample_hash = model_sample;
    }
    if (!(ctl & 1) && (ctl & 4))
        snprintf(e[k].copy_name, sizeof e[k].copy_name, "copy.gguf");
    moetier_stage_record_seal(h, e, n);
    size_t rlen = moetier_stage_record_size(n);
    why[0] = '\0';
    rc = moetier_stage_record_check(h, rlen, why, sizeof why);
    CHECK(rc == 0 || (rc == -EBADMSG && strstr(why, "bad path")));

    const char *slow = ctl & 1 ? slow_dax : slow_pmem;
    uint64_t dev_size = rlen;
    unlink(record);
    if (ctl & 1) {
        int fd = open(dax, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, h, rlen) != (ssize_t)rlen)
            abort();
        uint64_t off = e[k].offset;
        if ((ctl & 4) && off >= rlen && off < (1u << 20)) {
            if (pwrite(fd, content, sizeof content, (off_t)off) != (ssize_t)sizeof content)
                abort();
            dev_size = off + sizeof content;
        }
        close(fd);
    } else {
        write_file(record, h, rlen);
    }

    struct moetier_stage_copy out;
    why[0] = '\0';
    rc = moetier_stage_find(slow, model, &out, why, sizeof why);
    CHECK(rc <= 0 && rc != -EINVAL);
    check_why(rc, why);
    if (rc == 0) {
        CHECK(out.size == MODEL_BYTES);
        if (out.is_devdax) {
            CHECK(ctl & 1);
            CHECK(strcmp(out.path, dax) == 0);
            CHECK(out.align && out.offset % out.align == 0);
            CHECK(out.offset >= rlen && out.offset + out.size <= dev_size);
        } else {
            size_t dl = strlen(dir);
            CHECK(!(ctl & 1));
            CHECK(strncmp(out.path, dir, dl) == 0 && out.path[dl] == '/' && !strchr(out.path + dl + 1, '/'));
        }
        struct moetier_stage_full full;
        why[0] = '\0';
        rc = moetier_stage_check_full(slow, model, &full, why, sizeof why);
        CHECK(rc == 0 || rc == -ESTALE);
        check_why(rc, why);
    }
    free(h);
    return 0;
}
