/* wire: an ordinary TCP peer for the end-to-end tests. It sets no socket option at all, so any
 * keepalive it has comes from the library.
 *
 *   wire connect ADDRESS PORT   connect, then for each line on stdin: send it and read the reply;
 *                               at the end of stdin, block in read() until the connection ends
 *   wire serve PORT             listen on PORT, accept one connection, echo what it sends
 *   wire serve-fd FD            the same with an already-listening descriptor (socket activation)
 *   wire activate PORT PROGRAM [ARGS...]
 *                               listen on PORT as descriptor 3, then exec PROGRAM, as systemd or
 *                               inetd hand a listener to the service they start
 *
 * Lines on stdout, each flushed: "connected", "accepted", "reply N bytes after S s", and last
 * "read: RESULT after S s", RESULT an errno name or EOF and S the seconds since the connection
 * was made or the last line was sent. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return time.tv_sec + time.tv_nsec / 1e9;
}

static const char *errno_name(int error) {
    switch (error) {
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNRESET: return "ECONNRESET";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EPIPE: return "EPIPE";
    default: return strerror(error);
    }
}

static void die(const char *what) {
    printf("%s: %s\n", what, errno_name(errno));
    fflush(stdout);
    exit(1);
}

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vprintf(format, arguments);
    va_end(arguments);
    putchar('\n');
    fflush(stdout);
}

/* The last line: how the final read() ended, `since` seconds after the last thing we did. */
static int finish(ssize_t count, double since) {
    say("read: %s after %.3f s", count == 0 ? "EOF" : errno_name(errno), now() - since);
    return 0;
}

static int client(const char *address, const char *port) {
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    if (inet_pton(AF_INET, address, &peer.sin_addr) != 1) {
        fprintf(stderr, "wire: bad address %s\n", address);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0)
        die("connect");
    double since = now();
    say("connected");
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        size_t length = strlen(line);
        since = now();
        if (write(fd, line, length) != (ssize_t)length)
            die("write");
        ssize_t count = read(fd, line, sizeof line);
        if (count <= 0)
            return finish(count, since);
        say("reply %zd bytes after %.3f s", count, now() - since);
    }
    ssize_t count;
    while ((count = read(fd, line, sizeof line)) > 0) {
    }
    return finish(count, since);
}

static int listener(const char *port) {
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&any, sizeof any) < 0 || listen(fd, 8) < 0)
        die("listen");
    return fd;
}

static int serve(int listening) {
    int fd = accept(listening, NULL, NULL);
    if (fd < 0)
        die("accept");
    say("accepted");
    char buffer[4096];
    double since = now();
    ssize_t count;
    while ((count = read(fd, buffer, sizeof buffer)) > 0) {
        if (write(fd, buffer, count) != count)
            die("write");
        since = now();
    }
    return finish(count, since);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "connect"))
        return client(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "serve"))
        return serve(listener(argv[2]));
    if (argc == 3 && !strcmp(argv[1], "serve-fd"))
        return serve(atoi(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "activate")) {
        int fd = listener(argv[2]);
        if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0))
            die("dup2");
        execvp(argv[3], argv + 3);
        die("exec");
    }
    fprintf(stderr, "usage: wire connect ADDRESS PORT | serve PORT | serve-fd FD | activate PORT PROGRAM...\n");
    return 2;
}
