/*
 * hooks_signal: coexistence with the binary's own SIGSEGV handling, for the
 * fault sampler.
 *
 * While the fault sampler is armed, moetier's handler stays installed: a
 * SIGSEGV at an armed probe page is ours (restore the page, mark the hit,
 * return); anything else goes to the handler the binary asked for, with the
 * signature it asked for (sa_handler or sa_sigaction) and what the kernel
 * would have done for it: its sa_mask (and SIGSEGV unless SA_NODEFER) blocked
 * while it runs, SA_RESETHAND resetting it to SIG_DFL on entry, and
 * SA_ONSTACK honoured by installing ours with SA_ONSTACK (its alternate
 * stack). sigaction/signal are interposed so that an application installing
 * its handler later (node/V8 does) is recorded as the one to chain to, and
 * reads back what it installed. The default action uninstalls ours and lets
 * the fault repeat (or re-raises a signal that was sent), so a genuine fault
 * crashes as without moetier. The handler is async-signal-safe: no locks, no
 * allocation, errno saved.
 */
#include "shim/shim.h"

#include <errno.h>
#include <pthread.h>
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

/* The application's handler, run as the kernel would have run it. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction a = app_action;
    int fn = (a.sa_flags & SA_SIGINFO) ? a.sa_sigaction != NULL
                                       : a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
    if (fn) {
        if (a.sa_flags & SA_RESETHAND) {
            memset(&app_action, 0, sizeof app_action);
            app_action.sa_handler = SIG_DFL;
        }
        sigset_t block = a.sa_mask, old;
        if (!(a.sa_flags & SA_NODEFER))
            sigaddset(&block, sig);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        if (a.sa_flags & SA_SIGINFO)
            a.sa_sigaction(sig, si, uc);
        else
            a.sa_handler(sig);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return;
    }
    /* default action: uninstall and return; the faulting access repeats and
     * the kernel delivers the default (a core dump), as without moetier. A
     * signal that was sent (kill, raise) does not repeat: send it again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    call_real_sigaction(SIGSEGV, &dfl, NULL);
    installed = 0;
    if (!si || si->si_code <= 0)
        raise(sig);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    int ours = si && si->si_code == SEGV_ACCERR && moetier_sampler_fault(&shim.sampler, (uintptr_t)si->si_addr);
    errno = saved; /* the binary's handler sees its own errno */
    if (!ours)
        chain(sig, si, uc);
}

/* Ours, on the alternate stack where the application asked for one. */
static int install_ours(int onstack)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER | (onstack ? SA_ONSTACK : 0);
    sigemptyset(&sa.sa_mask);
    return call_real_sigaction(SIGSEGV, &sa, NULL) == 0 ? 0 : -errno;
}

int shim_fault_handler_install(void)
{
    if (installed)
        return 0;
    struct sigaction old;
    if (call_real_sigaction(SIGSEGV, NULL, &old) != 0)
        return -errno;
    int rc = install_ours(old.sa_flags & SA_ONSTACK);
    if (rc)
        return rc;
    app_action = old;
    installed = 1;
    return 0;
}

/* The binary's new handler becomes the one we chain to; ours follows its
 * SA_ONSTACK. */
static void set_app_action(const struct sigaction *act)
{
    int onstack_changed = (act->sa_flags ^ app_action.sa_flags) & SA_ONSTACK;
    /* for the exit line: the samples taken once the binary's own handler is
     * in place show that faults still reach the sampler */
    if (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN)
        __atomic_store_n(&shim.app_segv_samples, __atomic_load_n(&shim.hot.samples, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELAXED);
    app_action = *act;
    if (onstack_changed)
        install_ours(act->sa_flags & SA_ONSTACK);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig != SIGSEGV || !installed)
        return call_real_sigaction(sig, act, old);
    /* ours stays in place; the binary's becomes the one we chain to */
    if (old)
        *old = app_action;
    if (act)
        set_app_action(act);
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler)
{
    if (sig != SIGSEGV || !installed)
        return ((sighandler_t(*)(int, sighandler_t))shim_real("signal", &real_signal))(sig, handler);
    sighandler_t prev = (app_action.sa_flags & SA_SIGINFO) ? SIG_DFL : app_action.sa_handler;
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = handler;
    a.sa_flags = SA_RESTART; /* glibc's signal(): BSD semantics */
    set_app_action(&a);
    return prev;
}
