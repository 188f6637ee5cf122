/* leaderless: a process whose main thread has exited while another thread runs, as after
 * pthread_exit() in main. The main thread makes a loopback listener, starts a thread and exits;
 * the thread waits until the main thread is gone (a zombie), connects to the listener, and
 * prints "keepalive K idle I": SO_KEEPALIVE and TCP_KEEPIDLE of its socket, as the kernel
 * reports them. Exit 0 once printed, 1 (with a FAIL line) when something failed. */
#include "check.h"
#include <pthread.h>
#include <time.h>

static int listener;
static struct sockaddr_storage address;
static socklen_t length;

/* Whether the main thread has exited: the process's own state, which is its main thread's,
 * is then Z. */
static int main_thread_exited(void) {
    char stat[512] = "";
    FILE *file = fopen("/proc/self/stat", "r");
    if (file) {
        if (!fgets(stat, sizeof stat, file))
            stat[0] = 0;
        fclose(file);
    }
    const char *after_name = strrchr(stat, ')');
    return after_name && after_name[1] == ' ' && after_name[2] == 'Z';
}

static void *connect_once_alone(void *unused) {
    (void)unused;
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int tries = 0; !main_thread_exited(); tries++) {
        if (tries == 500) {
            FAIL("the main thread has not exited after 5 s");
            exit(1);
        }
        nanosleep(&pause, NULL);
    }
    int client = socket(address.ss_family, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&address, length) != 0) {
        FAIL("connect: %s", strerror(errno));
        exit(1);
    }
    int keepalive = option(client, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    int idle = option(client, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    printf("keepalive %d idle %d\n", keepalive, idle);
    exit(failures ? 1 : 0);
}

int main(void) {
    current = "leaderless";
    listener = raw_listener(AF_INET, &address, &length);
    pthread_t thread;
    if (pthread_create(&thread, NULL, connect_once_alone, NULL) != 0) {
        FAIL("pthread_create");
        return 1;
    }
    pthread_exit(NULL);
}
