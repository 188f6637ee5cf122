/* sigpipe MODE: run with stderr a pipe whose reader is gone, under the library with a bad value
 * (a warning at load) or KEEPALIVE_DEBUG=1 (a line per socket). The library's lines must raise
 * no SIGPIPE in the program, leave none pending that the program did not cause, and leave its
 * signal mask and SIGPIPE disposition as they were. Exit 0 when all holds; the reason on stdout
 * otherwise. Modes:
 *   default  SIGPIPE at its default action (which would kill the program), unblocked
 *   blocked  the program blocks SIGPIPE; later it causes one of its own, which must stay pending
 *   handler  the program counts SIGPIPE in a handler, which must never run for our lines */
#include "check.h"
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t handled;

static void count(int signal) {
    (void)signal;
    handled++;
}

static int pending(void) {
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, SIGPIPE);
}

static int blocked(void) {
    sigset_t set;
    sigprocmask(SIG_BLOCK, NULL, &set);
    return sigismember(&set, SIGPIPE);
}

static void (*disposition(void))(int) {
    struct sigaction action;
    sigaction(SIGPIPE, NULL, &action);
    return action.sa_handler;
}

/* A TCP socket through the library: a debug line with KEEPALIVE_DEBUG=1. */
static void make_socket(void) {
    int fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    close(fd);
}

static void expect(int pending_wanted, int blocked_wanted, const char *when) {
    if (pending() != pending_wanted)
        FAIL("%s: SIGPIPE %s pending", when, pending_wanted ? "not" : "left");
    if (blocked() != blocked_wanted)
        FAIL("%s: SIGPIPE %s blocked", when, blocked_wanted ? "no longer" : "left");
}

int main(int argc, char **argv) {
    current = argc == 2 ? argv[1] : "";
    if (disposition() != SIG_DFL) {
        printf("FAIL: SIGPIPE must start at its default action\n");
        return 1;
    }
    expect(0, 0, "after load");
    if (strcmp(current, "default") == 0) {
        make_socket();
        expect(0, 0, "after a socket");
    } else if (strcmp(current, "blocked") == 0) {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigprocmask(SIG_BLOCK, &pipe_only, NULL);
        make_socket();
        expect(0, 1, "blocked, after a socket");
        /* The program's own SIGPIPE, from its own write to a pipe without a reader. */
        int ends[2];
        SUCCEEDS(pipe(ends));
        close(ends[0]);
        if (write(ends[1], "x", 1) != -1 || errno != EPIPE)
            FAIL("the program's own write did not fail with EPIPE");
        close(ends[1]);
        expect(1, 1, "after the program's own SIGPIPE");
        make_socket();
        expect(1, 1, "the program's SIGPIPE, after a socket");
        struct timespec now = {0, 0};
        if (sigtimedwait(&pipe_only, NULL, &now) != SIGPIPE)
            FAIL("the program's own SIGPIPE was taken");
        expect(0, 1, "after the program took its SIGPIPE");
    } else if (strcmp(current, "handler") == 0) {
        struct sigaction action = {.sa_handler = count};
        sigemptyset(&action.sa_mask);
        sigaction(SIGPIPE, &action, NULL);
        make_socket();
        make_socket();
        expect(0, 0, "handler, after sockets");
        if (handled)
            FAIL("the program's SIGPIPE handler ran %d times", (int)handled);
        if (disposition() != count)
            FAIL("the program's SIGPIPE handler was replaced");
    } else {
        fprintf(stdout, "usage: sigpipe default|blocked|handler\n");
        return 2;
    }
    return finish();
}
