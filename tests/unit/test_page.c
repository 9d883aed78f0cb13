/*
 * test_page: the page size helper agrees with the kernel, is a power of two,
 * and stays the same.
 */
#include "common/page.h"
#include "check.h"

#include <unistd.h>

int main(void)
{
    size_t p = moetier_page_size();
    CHECK(p >= 4096 && (p & (p - 1)) == 0);
    CHECK(p == (size_t)sysconf(_SC_PAGESIZE));
    CHECK(p == (size_t)getpagesize());
    CHECK(moetier_page_size() == p); /* cached */
    return check_exit("test_page");
}
