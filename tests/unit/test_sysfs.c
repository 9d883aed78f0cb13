/*
 * test_sysfs: small kernel files and their numbers (common/sysfs.h), on files
 * the test writes: a number with its newline, blanks, trailing text, none,
 * empty, past 64 bits, missing; a text cut to the buffer; a real /proc file.
 */
#include "common/sysfs.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];

static const char *with(const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return "/nonexistent";
    close(fd);
    return path;
}

static void test_u64(void)
{
    CHECK(moetier_read_u64(with("65530\n"), 1) == 65530);
    CHECK(moetier_read_u64(with("  42"), 1) == 42);
    CHECK(moetier_read_u64(with("512 kB\n"), 1) == 512); /* what follows the number is not ours */
    CHECK(moetier_read_u64(with("18446744073709551615\n"), 1) == UINT64_MAX);
    CHECK(moetier_read_u64(with("18446744073709551616\n"), 1) == 1); /* past 64 bits: the default */
    CHECK(moetier_read_u64(with("max\n"), 9) == 9);                   /* cgroup v2's "no limit" */
    CHECK(moetier_read_u64(with("-1\n"), 9) == 9);
    CHECK(moetier_read_u64(with(""), 9) == 9);
    CHECK(moetier_read_u64("/nonexistent/moetier", 9) == 9);
}

static void test_text(void)
{
    char buf[8];
    CHECK(moetier_read_text(with("abc\n"), buf, sizeof buf) == 4 && strcmp(buf, "abc\n") == 0);
    CHECK(moetier_read_text(with("0123456789"), buf, sizeof buf) == 7 && strcmp(buf, "0123456") == 0);
    CHECK(moetier_read_text(with(""), buf, sizeof buf) == 0 && buf[0] == '\0');
    CHECK(moetier_read_text("/nonexistent/moetier", buf, sizeof buf) == -ENOENT);
    char big[8192];
    ssize_t n = moetier_read_text("/proc/self/status", big, sizeof big); /* a /proc file, several reads or one */
    CHECK(n > 0 && strncmp(big, "Name:", 5) == 0 && (size_t)n == strlen(big));
}

int main(void)
{
    strcpy(path, "/tmp/moetier-test-sysfs.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 99;
    }
    close(fd);
    test_u64();
    test_text();
    unlink(path);
    return check_exit("test_sysfs");
}
