#include "tests/driver/node_layer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int node_layer(const struct ggml_tensor *t, const char *pfx)
{
    size_t n = strlen(pfx);
    if (strncmp(t->name, pfx, n))
        return -1;
    const char *s = t->name + n;
    char *end;
    long il = strtol(s, &end, 10);
    if (end == s || *end || il < 0 || il > INT_MAX)
        return -1;
    return (int)il;
}
