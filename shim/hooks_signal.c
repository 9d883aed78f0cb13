/*
 * hooks_signal: coexistence with the binary's own SIGSEGV handling, for the
 * fault sampler.
 *
 * While the fault sampler is armed, moetier's handler stays installed: a
 * SIGSEGV at an armed probe page is ours (restore the page, mark the hit,
 * return); anything else goes to the handler the binary asked for, with the
 * signature it asked for (sa_handler or sa_sigaction). sigaction/signal are
 * interposed so that an application installing its handler later (node/V8
 * does) is recorded as the one to chain to, and reads back what it installed.
 * The handler is async-signal-safe: no locks, no allocation, errno saved.
 */
#include "shim/shim.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static void *real_sigaction, *real_signal;
static volatile int installed;
static struct sigaction app_action; /* what the binary installed for SIGSEGV */

static int call_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return ((int (*)(int, const struct sigaction *, struct sigaction *))shim_real("sigaction", &real_sigaction))(
        sig, act, old);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    if (si && si->si_code == SEGV_ACCERR && moetier_sampler_fault(&shim.sampler, (uintptr_t)si->si_addr)) {
        errno = saved;
        return;
    }
    errno = saved;
    struct sigaction a = app_action;
    if (a.sa_flags & SA_SIGINFO) {
        if (a.sa_sigaction) {
            a.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN) {
        a.sa_handler(sig);
        return;
    }
    /* default action: uninstall and return; the faulting access repeats and
     * the kernel delivers the default (a core dump), as without moetier */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    call_real_sigaction(SIGSEGV, &dfl, NULL);
    installed = 0;
}

int shim_fault_handler_install(void)
{
    if (installed)
        return 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (call_real_sigaction(SIGSEGV, &sa, &old) != 0)
        return -errno;
    app_action = old;
    installed = 1;
    return 0;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig != SIGSEGV || !installed)
        return call_real_sigaction(sig, act, old);
    /* ours stays in place; the binary's becomes the one we chain to */
    if (old)
        *old = app_action;
    if (act)
        app_action = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler)
{
    if (sig != SIGSEGV || !installed)
        return ((sighandler_t(*)(int, sighandler_t))shim_real("signal", &real_signal))(sig, handler);
    sighandler_t prev = (app_action.sa_flags & SA_SIGINFO) ? SIG_DFL : app_action.sa_handler;
    memset(&app_action, 0, sizeof app_action);
    app_action.sa_handler = handler;
    app_action.sa_flags = SA_RESTART;
    return prev;
}
