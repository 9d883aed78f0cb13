/*
 * stage_find: the runtime's view of a staged copy, for the shell tests.
 *
 *   stage_find find SLOW MODEL    one line: "ok PATH OFFSET SIZE DEVDAX ALIGN",
 *                                 or "ENOENT|ESTALE|EBADMSG|E<n> WHY"
 *   stage_find check SLOW MODEL   moetier_stage_check_full: "ok HASH" or "CODE WHY"
 *   stage_find blocks SIZE        the sampled blocks of a file of SIZE bytes,
 *                                 one "OFFSET LENGTH" line each (non-empty ones)
 * Exit 0 when it ran (the result is on stdout), 1 on bad usage.
 */
#include "tiering/stage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *code(int rc)
{
    static char b[16];
    switch (rc) {
    case -ENOENT: return "ENOENT";
    case -ESTALE: return "ESTALE";
    case -EBADMSG: return "EBADMSG";
    case -EINVAL: return "EINVAL";
    case -EPERM: return "EPERM";
    }
    snprintf(b, sizeof b, "E%d", -rc);
    return b;
}

int main(int argc, char **argv)
{
    char why[1024];
    if (argc == 3 && strcmp(argv[1], "blocks") == 0) {
        uint64_t size = strtoull(argv[2], NULL, 0);
        for (unsigned i = 0; i < MOETIER_STAGE_SAMPLE_BLOCKS; i++) {
            uint64_t off, len;
            moetier_stage_sample_block(size, i, &off, &len);
            if (len)
                printf("%" PRIu64 " %" PRIu64 "\n", off, len);
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "find") == 0) {
        struct moetier_stage_copy c;
        int rc = moetier_stage_find(argv[2], argv[3], &c, why, sizeof why);
        if (rc)
            printf("%s %s\n", code(rc), why);
        else
            printf("ok %s %" PRIu64 " %" PRIu64 " %d %" PRIu64 "\n", c.path, c.offset, c.size, c.is_devdax,
                   c.align);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "check") == 0) {
        struct moetier_stage_full f;
        int rc = moetier_stage_check_full(argv[2], argv[3], &f, why, sizeof why);
        if (rc)
            printf("%s %s\n", code(rc), why);
        else
            printf("ok %016" PRIx64 "\n", f.recorded);
        return 0;
    }
    fprintf(stderr, "usage: stage_find find|check SLOW MODEL | blocks SIZE\n");
    return 1;
}
