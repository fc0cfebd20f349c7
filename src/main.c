/*
 * main.c - the wcstream command: flags in, a running query out.
 *
 * Parses the configuration, builds the engine, turns SIGINT/SIGTERM (and
 * SIGHUP, a closed terminal) into a graceful stop (the batch in hand is
 * committed first) and maps the outcome to the exit status: 0 normal end
 * or stop, 1 runtime failure, 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "wcstream/config.h"
#include "wcstream/engine.h"
#include "wcstream/log.h"
#include "wcstream/text.h"

/* Read by the signal handler, on whichever thread takes the signal;
 * main frees the engine only once no handler is between its load of
 * `running` and the end of its wcs_engine_stop(). */
static _Atomic(struct wcs_engine *) running;
static atomic_int in_handler;
static atomic_int signals; /* taken so far */
static atomic_bool ended;  /* the query has ended: tearing down */

/* The first signal stops the query gracefully: at once if it runs, as soon
 * as it is made if it is starting. A second one, or one after the query
 * ended, does what a signal does by default, so that a second Ctrl-C ends
 * a slow teardown, or a sink stuck on a pipe nobody reads, at once. */
static void on_signal(int sig)
{
    atomic_fetch_add(&in_handler, 1);
    /* Counted before running is read, as main sets running before it
     * reads the count: one of the two sees the other and stops the query. */
    bool first = atomic_fetch_add(&signals, 1) == 0;
    struct wcs_engine *eng = running; /* one load: main may clear it meanwhile */
    if (first && eng)
        wcs_engine_stop(eng);
    atomic_fetch_sub(&in_handler, 1);
    if (!first || atomic_load(&ended)) {
        if (getpid() == 1) /* a container's init, to which a default action does nothing */
            _exit(128 + sig);
        signal(sig, SIG_DFL);
        raise(sig); /* ends the process, at the latest as the handler returns */
    }
}

/* With fd 0, 1 or 2 closed, the next open() would take its number and the
 * console sink or the log would write into the state database. */
static void guard_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            _exit(1);
}

/* Every listen:// client and websocket is a file descriptor; the usual soft
 * limit of 1024 would refuse clients long before maxClients. Raise it to
 * the hard limit (at most 1M, for a hard limit of "unlimited"). */
#define FD_LIMIT_MOST ((rlim_t)1 << 20)

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_LIMIT_MOST ? FD_LIMIT_MOST : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* "wcstream: ERR", then `then`, on stderr; ERR escaped as log lines are
 * (wcs_escape_line()): it may quote a file's name. */
static void print_error(const char *err, const char *then)
{
    char line[4 * 1024]; /* an escape is at most 4 bytes per byte of err[1024] */
    size_t n = wcs_escape_line(line, sizeof(line), err, strlen(err));

    fprintf(stderr, "wcstream: %.*s\n%s", (int)n, line, then);
}

int main(int argc, char **argv)
{
    guard_std_fds();
    struct wcs_config cf;
    char err[1024] = "";
    enum wcs_config_status cs = wcs_config_from_args(&cf, argc, argv, err, sizeof(err));
    if (cs != WCS_CONFIG_OK) {
        if (cs == WCS_CONFIG_USAGE)
            print_error(err, "Try 'wcstream --help' for more information.\n");
        wcs_config_free(&cf);
        if (cs == WCS_CONFIG_EXIT && fflush(stdout) == EOF) { /* --help > /dev/full */
            fprintf(stderr, "wcstream: cannot write to standard output: %s\n", strerror(errno));
            return 1;
        }
        return cs == WCS_CONFIG_EXIT ? 0 : 2;
    }
    wcs_log_set_level(cf.log_level);
    raise_fd_limit();

    /* A reader that went away is an error on that write, not a kill; a
     * file size limit is a failed write the state rolls back. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);

    /* Any thread but a source's reader may take the signal: SA_RESTART,
     * so that a sink's write or SQLite's I/O on that thread goes on rather
     * than fail with EINTR (poll and the like still wake, and the engine
     * notices the stop either way). */
    _Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2 &&
                       ATOMIC_BOOL_LOCK_FREE == 2,
                   "a signal handler may use only lock-free atomics");
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* The terminal that ran it closed: stop as for SIGTERM, rather than be
     * killed with the batch in hand; unless started to outlive it (nohup). */
    struct sigaction hup;
    if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &sa, NULL);

    bool usage;
    struct wcs_engine *eng = wcs_engine_new(&cf, &usage, err, sizeof(err));
    if (!eng) {
        print_error(err, usage ? "Try 'wcstream --help' for more information.\n" : "");
        wcs_config_free(&cf);
        return usage ? 2 : 1;
    }
    running = eng;
    if (atomic_load(&signals)) /* taken while starting, before eng was running */
        wcs_engine_stop(eng);

    int r = wcs_engine_run(eng, err, sizeof(err));
    ended = true;
    running = NULL;
    while (atomic_load(&in_handler)) /* a handler that loaded eng before */
        sched_yield();
    wcs_engine_free(eng);
    wcs_config_free(&cf);
    if (r < 0) {
        print_error(err, "");
        return 1;
    }
    return 0;
}
