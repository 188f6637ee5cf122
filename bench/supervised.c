/* supervised: the time one connect(), one accept() and one getpid() take, for bench/supervisor.sh
 * to compare bare with under `keepalive --via seccomp`.
 *
 *   supervised ROUNDS   ROUNDS loopback connect/accept rounds, then 100 x ROUNDS getpid calls
 *
 * Prints "connect NS accept NS getpid NS": the mean nanoseconds per call. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return time.tv_sec * 1000000000LL + time.tv_nsec;
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: supervised ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 64) < 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) < 0)
        fail("listener");
    long long connecting = 0, accepting = 0;
    for (long round = 0; round < rounds; round++) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        /* Closed with a reset, so that no TIME_WAIT piles up over the rounds. */
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        if (client < 0 || setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) < 0) fail("socket");
        long long start = now_ns();
        if (connect(client, (struct sockaddr *)&address, sizeof address) < 0) fail("connect");
        long long connected = now_ns();
        int accepted = accept(listener, NULL, NULL);
        long long done = now_ns();
        if (accepted < 0) fail("accept");
        connecting += connected - start;
        accepting += done - connected;
        close(client);
        close(accepted);
    }
    long calls = rounds * 100;
    long long start = now_ns();
    for (long call = 0; call < calls; call++) syscall(SYS_getpid);
    long long getpid_ns = now_ns() - start;
    printf("connect %lld accept %lld getpid %lld\n", connecting / rounds, accepting / rounds, getpid_ns / calls);
    return 0;
}
