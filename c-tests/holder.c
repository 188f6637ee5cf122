/* holder: a process that holds TCP sockets for `keepalive --attach` to find. It never turns
 * keepalive on; with IDLE it sets TCP_KEEPIDLE itself, as a program with its own choice would.
 *
 *   holder connect ADDRESS PORT [IDLE]
 *                      connect, print "connected fd N port P" (P: our local port), then block in
 *                      read() until the connection ends and print "read: RESULT after S s"
 *   holder listen      listen on a free loopback port, print "listening fd N port P", then accept
 *                      forever, printing "accepted fd N" for each connection, which it keeps
 *   holder many COUNT  a listener and COUNT connections to it, both ends held (1 + 2 x COUNT
 *                      TCP sockets); print "ready fds A to B" and sleep until killed
 *
 * Every line is flushed. Built statically too (target/c-tests/static/holder), as a program
 * that no preloaded library reaches. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    printf("%s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static double now(void)
{
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return time.tv_sec + time.tv_nsec / 1e9;
}

static int port_of(int fd)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0)
        die("getsockname");
    return ntohs(address.sin_port);
}

static int listener(void)
{
    struct sockaddr_in loopback = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&loopback, sizeof loopback) < 0 || listen(fd, 4096) < 0)
        die("listen");
    return fd;
}

static int connected(const char *address, int port)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, address, &peer.sin_addr) != 1) {
        errno = EINVAL;
        die("address");
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0)
        die("connect");
    return fd;
}

static int client(const char *address, int port, const char *idle)
{
    int fd = connected(address, port);
    if (idle) {
        int seconds = atoi(idle);
        if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof seconds) < 0)
            die("setsockopt");
    }
    printf("connected fd %d port %d\n", fd, port_of(fd));
    fflush(stdout);
    double since = now();
    char buffer[4096];
    ssize_t count;
    while ((count = read(fd, buffer, sizeof buffer)) > 0)
        since = now();
    printf("read: %s after %.3f s\n", count == 0 ? "EOF" : strerror(errno), now() - since);
    fflush(stdout);
    return 0;
}

__attribute__((noreturn)) static void serve(void)
{
    int fd = listener();
    printf("listening fd %d port %d\n", fd, port_of(fd));
    fflush(stdout);
    for (;;) {
        int accepted = accept(fd, NULL, NULL);
        if (accepted < 0)
            die("accept");
        printf("accepted fd %d\n", accepted);
        fflush(stdout);
    }
}

__attribute__((noreturn)) static void many(int count)
{
    struct rlimit limit = {.rlim_cur = 2 * count + 64, .rlim_max = 2 * count + 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
        die("setrlimit");
    int listening = listener(), first = listening, last = listening;
    int port = port_of(listening);
    for (int made = 0; made < count; made++) {
        if (connected("127.0.0.1", port) < 0 || (last = accept(listening, NULL, NULL)) < 0)
            die("accept");
    }
    printf("ready fds %d to %d\n", first, last);
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "connect"))
        return client(argv[2], atoi(argv[3]), argc == 5 ? argv[4] : NULL);
    if (argc == 2 && !strcmp(argv[1], "listen"))
        serve();
    if (argc == 3 && !strcmp(argv[1], "many"))
        many(atoi(argv[2]));
    fprintf(stderr, "usage: holder connect ADDRESS PORT [IDLE] | holder listen | holder many COUNT\n");
    return 2;
}
