/*
 * secure_probe: the preload in a setuid/setgid/capability process
 * (AT_SECURE), for tests/shim/secure_exec.sh.
 *
 * It is linked against libmoetier.so (an absolute rpath into the build
 * tree), so the shim's constructor runs in it before main exactly as a
 * preload's would: the dynamic loader drops LD_PRELOAD paths in an AT_SECURE
 * process, but /etc/ld.so.preload and a privileged program's own links still
 * load the library there. main prints "at_secure N" (getauxval).
 */
#include <stdio.h>
#include <sys/auxv.h>

int main(void)
{
    printf("at_secure %lu\n", getauxval(AT_SECURE));
    return 0;
}
