/* Unit tests of profiler/routing_file.c: both formats, hot-share, and malformed input. */
#include "profiler/routing_file.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/moetier-routing-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(const char *text, struct moetier_routing *r, char *err, size_t n)
{
    return moetier_routing_load(write_file("x", text), 1, r, err, n);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 99;
    struct moetier_routing r;
    char err[256];

    CHECK(load("# model=t layers=2 experts=4 topk=2 source=x of_32 words\n0,1 2,3\n1,0 3,2\n1,2 0,3\n", &r, err,
               sizeof err) == 0);
    CHECK(r.is_trace && r.layers == 2 && r.experts == 4 && r.topk == 2 && r.tokens == 3);
    CHECK_STR(r.model, "t");
    CHECK(r.counts[0] == 2 && r.counts[1] == 3 && r.counts[2] == 1 && r.counts[3] == 0);
    CHECK(r.counts[4] == 1 && r.counts[5] == 0 && r.counts[6] == 2 && r.counts[7] == 3);
    CHECK(r.routes && r.routes[4] == 1 && r.routes[5] == 0);
    /* 8 pairs, hottest 25% = 2 pairs (3 + 3) of 12 accesses */
    CHECK(moetier_routing_hot_share(&r, 0.25) == 0.5);
    moetier_routing_free(&r);

    CHECK(load("# model=c layers=2 experts=3 topk=1 tokens=9 counts\n1 2 3\n0 0 9\n", &r, err, sizeof err) == 0);
    CHECK(!r.is_trace && r.tokens == 9 && r.counts[5] == 9 && r.routes == NULL);
    CHECK(moetier_routing_hot_share(&r, 0.10) == 9.0 / 15.0); /* floor(0.6) -> at least one pair */
    moetier_routing_free(&r);

    /* malformed input: each names what is wrong, and where */
    struct {
        const char *text, *needle;
    } bad[] = {
        { "", "header" },
        { "layers=2 experts=4 topk=2\n", "header" },
        { "# model=x experts=4 topk=2\n0 1\n", "layers=" },
        { "# layers=0 experts=4 topk=2\n", "implausible" },
        { "# layers=2 experts=4 topk=5\n", "implausible" },
        { "# layers=99999999 experts=4 topk=2\n", "implausible" },
        { "# layers=x experts=4 topk=2\n", "layers=" },
        { "# layers=2 experts=4 topk=2\n0,1 2\n", "line 2: layer 1: expected 2" },
        { "# layers=2 experts=4 topk=2\n0,1 2,4\n", "out of range" },
        { "# layers=2 experts=4 topk=2\n0,1 2,-1\n", "out of range" },
        { "# layers=2 experts=4 topk=2\n0,1 2,3 1,1\n", "more than 2 layer groups" },
        { "# layers=2 experts=4 topk=2\n0,1,2 2,3\n", "more than 2 expert ids" },
        { "# layers=2 experts=4 topk=2\n", "no token lines" },
        { "# layers=2 experts=3 topk=1 counts\n1 2 3\n", "1 layer lines, header says 2" },
        { "# layers=1 experts=3 topk=1 counts\n1 2\n", "expected 3 non-negative counts" },
        { "# layers=1 experts=3 topk=1 counts\n1 2 -3\n", "non-negative" },
        { "# layers=1 experts=3 topk=1 counts\n1 2 3 4\n", "more than 3 counts" },
        { "# layers=1 experts=3 topk=1 counts\n1 2 3\n4 5 6\n", "more than 1 layer lines" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = load(bad[i].text, &r, err, sizeof err);
        CHECK(rc == -EINVAL);
        if (!strstr(err, bad[i].needle)) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err, bad[i].needle);
            check_failures++;
        }
    }
    CHECK(moetier_routing_load("/nonexistent/x.trace", 0, &r, err, sizeof err) == -ENOENT);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        check_failures++;
    return check_exit("test_routing");
}
