/* forkleak [RUNS] [SECONDS]: no descriptor of the library's ever shows up in a child. Each run is
 * a fresh process (forked from here before any connect, so the library has learned nothing yet):
 * one thread forks children in a loop, each of which looks for a socket it should not have;
 * meanwhile another thread connects a socket made by system call, with no keepalive, whose
 * interval the program chose itself, so that the library must learn a fresh socket's timers
 * right then. Exit 0 when no child saw a socket of ours and every run kept the program's
 * interval (the timers were learned); the counts on stdout. Bounded by RUNS and SECONDS. */
#include "check.h"
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static int listener, client;
static volatile int connected;

/* Whether this process holds a socket other than the program's listener and client.
 * Async-signal-safe: a child of a threaded program may call nothing else. */
static int holds_a_stray_socket(void) {
    for (int fd = 0; fd < 256; fd++) {
        struct stat status;
        if (fd != listener && fd != client && fstat(fd, &status) == 0 && S_ISSOCK(status.st_mode))
            return 1;
    }
    return 0;
}

static void *fork_in_a_loop(void *leaks) {
    while (!connected) {
        pid_t child = fork();
        if (child == 0)
            _exit(holds_a_stray_socket() ? 3 : 0);
        int status = 0;
        if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 3)
            ++*(int *)leaks;
    }
    return NULL;
}

/* One run: returns the number of children that saw a stray socket, or -1 if the program's
 * interval was not kept. */
static int run(void) {
    struct sockaddr_storage address;
    socklen_t length;
    listener = raw_listener(AF_INET, &address, &length);
    client = raw_socket(AF_INET, SOCK_STREAM);
    int interval = 7;
    setsockopt(client, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    int leaks = 0;
    pthread_t forker;
    pthread_create(&forker, NULL, fork_in_a_loop, &leaks);
    /* Let the forking loop get going, by a different amount each run. */
    struct timespec pause = {0, (getpid() % 50) * 10000};
    nanosleep(&pause, NULL);
    connect(client, (struct sockaddr *)&address, length);
    connected = 1;
    pthread_join(forker, NULL);
    int kept = option(client, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL") == interval;
    return kept ? leaks : -1;
}

int main(int argc, char **argv) {
    current = "forkleak";
    int runs = argc > 1 ? atoi(argv[1]) : 300, seconds = argc > 2 ? atoi(argv[2]) : 20;
    time_t end = time(NULL) + seconds;
    int done = 0, leaks = 0, unlearned = 0;
    for (; done < runs && time(NULL) < end; done++) {
        pid_t child = fork();
        if (child == 0) {
            int result = run();
            _exit(result < 0 ? 255 : result > 100 ? 100 : result);
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
            FAIL("run %d did not finish (status %d)", done, status);
            break;
        }
        if (WEXITSTATUS(status) == 255)
            unlearned++;
        else
            leaks += WEXITSTATUS(status);
    }
    printf("runs %d, children that saw a socket of the library's %d, runs where the program's interval was lost %d\n",
           done, leaks, unlearned);
    if (leaks)
        FAIL("a descriptor of the library's showed up in %d children", leaks);
    if (unlearned)
        FAIL("the program's own interval was overwritten in %d runs", unlearned);
    return finish();
}
