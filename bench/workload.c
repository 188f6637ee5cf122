/* Benchmark workload: `workload MODE COUNT` creates COUNT sockets and closes them.
 *   tcp      socket(AF_INET, SOCK_STREAM) + close
 *   udp      socket(AF_INET, SOCK_DGRAM) + close
 *   connect  client socket + connect to a loopback listener in this process + accept + close both
 *   setsockopt  TCP_NODELAY on one TCP socket, COUNT times
 * The listener is made once, before the loop, so it cancels out when two counts are compared. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int check(int result, const char *what) {
    if (result < 0) {
        perror(what);
        exit(1);
    }
    return result;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s tcp|udp|connect|setsockopt COUNT\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    long count = atol(argv[2]);

    if (strcmp(mode, "tcp") == 0 || strcmp(mode, "udp") == 0) {
        int type = mode[0] == 't' ? SOCK_STREAM : SOCK_DGRAM;
        for (long i = 0; i < count; i++)
            close(check(socket(AF_INET, type, 0), "socket"));
        return 0;
    }
    if (strcmp(mode, "setsockopt") == 0) {
        /* An option the library never holds, on a TCP socket: the cost of passing through. */
        int fd = check(socket(AF_INET, SOCK_STREAM, 0), "socket"), one = 1;
        for (long i = 0; i < count; i++)
            check(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), "setsockopt");
        close(fd);
        return 0;
    }
    if (strcmp(mode, "connect") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }

    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    int listener = check(socket(AF_INET, SOCK_STREAM, 0), "socket");
    check(bind(listener, (struct sockaddr *)&address, sizeof address), "bind");
    check(listen(listener, 16), "listen");
    check(getsockname(listener, (struct sockaddr *)&address, &length), "getsockname");
    for (long i = 0; i < count; i++) {
        int client = check(socket(AF_INET, SOCK_STREAM, 0), "socket");
        /* On loopback the kernel completes the handshake inside connect(), so one thread can
         * connect and then accept. */
        check(connect(client, (struct sockaddr *)&address, sizeof address), "connect");
        int server = check(accept(listener, NULL, NULL), "accept");
        /* The server side closes first, so TIME_WAIT lands on the listener's port rather than
         * using up the client's ephemeral ports. */
        close(server);
        close(client);
    }
    close(listener);
    return 0;
}
