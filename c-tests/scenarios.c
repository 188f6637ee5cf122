/* Scenarios run under LD_PRELOAD=libkeepalive.so: `scenarios NAME`. Each reads back from the
 * kernel what the library did and exits non-zero on any mismatch (77: the kernel lacks a feature). */
#include "check.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/resource.h>

#define SKIP 77

/* socket() with `type`, then connect to a loopback listener; checked after both calls. */
static void client(int family, int type, int protocol, const char *label) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(family, &address, &length);
    int fd = SUCCEEDS(socket(family, type, protocol));
    char when[96];
    snprintf(when, sizeof when, "%s after socket()", label);
    check_configured(fd, when);
    if (!!(type & SOCK_NONBLOCK) != !!(fcntl(fd, F_GETFL) & O_NONBLOCK))
        FAIL("%s: O_NONBLOCK does not match SOCK_NONBLOCK", label);
    if (!!(type & SOCK_CLOEXEC) != !!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
        FAIL("%s: FD_CLOEXEC does not match SOCK_CLOEXEC", label);
    if (type & SOCK_NONBLOCK) {
        errno = 0;
        int result = connect(fd, (struct sockaddr *)&address, length);
        if (result != -1 || errno != EINPROGRESS)
            FAIL("%s: non-blocking connect() gave %d (%s), expected -1 EINPROGRESS", label, result,
                 strerror(errno));
        struct pollfd ready = {.fd = fd, .events = POLLOUT};
        poll(&ready, 1, 2000);
    } else {
        SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
    }
    snprintf(when, sizeof when, "%s after connect()", label);
    check_configured(fd, when);
    close(fd);
    close(listener);
}

static void each_type(int family, int protocol, const char *name) {
    static const struct {
        int flags;
        const char *label;
    } flags[] = {{0, ""},
                 {SOCK_NONBLOCK, "|SOCK_NONBLOCK"},
                 {SOCK_CLOEXEC, "|SOCK_CLOEXEC"},
                 {SOCK_NONBLOCK | SOCK_CLOEXEC, "|SOCK_NONBLOCK|SOCK_CLOEXEC"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char label[96];
        snprintf(label, sizeof label, "%s SOCK_STREAM%s", name, flags[i].label);
        client(family, SOCK_STREAM | flags[i].flags, protocol, label);
    }
}

static int ipv4(void) {
    each_type(AF_INET, 0, "AF_INET");
    return finish();
}

static int ipv6(void) {
    each_type(AF_INET6, 0, "AF_INET6");
    return finish();
}

static int ipproto_tcp(void) {
    each_type(AF_INET, IPPROTO_TCP, "AF_INET IPPROTO_TCP");
    each_type(AF_INET6, IPPROTO_TCP, "AF_INET6 IPPROTO_TCP");
    return finish();
}

static int mptcp(void) {
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
    int probe = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    if (probe < 0) {
        printf("SKIP mptcp: this kernel cannot create MPTCP sockets (%s)\n", strerror(errno));
        return SKIP;
    }
    close(probe);
    /* MPTCP sockets refuse TCP_USER_TIMEOUT (EOPNOTSUPP); the library's attempt fails quietly. */
    check_user_timeout = 0;
    client(AF_INET, SOCK_STREAM, IPPROTO_MPTCP, "AF_INET IPPROTO_MPTCP");
    return finish();
}

/* UDP, UNIX and socket pairs keep SO_KEEPALIVE off through socket(), connect() and accept(). */
static int untouched(void) {
    struct sockaddr_storage address;
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        int udp = SUCCEEDS(socket(family, SOCK_DGRAM, 0));
        check_keepalive_off(udp, "a UDP socket");
        socklen_t length = loopback(family, htons(9), &address);
        SUCCEEDS(connect(udp, (struct sockaddr *)&address, length));
        check_keepalive_off(udp, "a connected UDP socket");
        close(udp);
    }
    int pair[2];
    SUCCEEDS(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    check_keepalive_off(pair[0], "a socketpair");
    close(pair[0]);
    close(pair[1]);

    struct sockaddr_un path = {.sun_family = AF_UNIX};
    snprintf(path.sun_path, sizeof path.sun_path, "/tmp/libkeepalive-test-%d.sock", (int)getpid());
    unlink(path.sun_path);
    int listener = SUCCEEDS(socket(AF_UNIX, SOCK_STREAM, 0));
    check_keepalive_off(listener, "a UNIX stream socket");
    SUCCEEDS(bind(listener, (struct sockaddr *)&path, sizeof path));
    SUCCEEDS(listen(listener, 4));
    int unix_client = SUCCEEDS(socket(AF_UNIX, SOCK_STREAM, 0));
    SUCCEEDS(connect(unix_client, (struct sockaddr *)&path, sizeof path));
    check_keepalive_off(unix_client, "a connected UNIX socket");
    int accepted = SUCCEEDS(accept(listener, NULL, NULL));
    check_keepalive_off(accepted, "an accepted UNIX socket");
    int dgram = SUCCEEDS(socket(AF_UNIX, SOCK_DGRAM, 0));
    check_keepalive_off(dgram, "a UNIX datagram socket");
    close(dgram);
    close(accepted);
    close(unix_client);
    close(listener);
    unlink(path.sun_path);
    return finish();
}

/* A socket made by system call gets keepalive when it reaches connect(). */
static int raw_socket_connect(void) {
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        struct sockaddr_storage address;
        socklen_t length;
        int listener = raw_listener(family, &address, &length);
        int fd = raw_socket(family, SOCK_STREAM);
        check_keepalive_off(fd, "a raw socket before connect()");
        SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
        check_configured(fd, family == AF_INET ? "raw AF_INET after connect()" : "raw AF_INET6 after connect()");
        close(fd);

        int nonblocking = raw_socket(family, SOCK_STREAM | SOCK_NONBLOCK);
        errno = 0;
        int result = connect(nonblocking, (struct sockaddr *)&address, length);
        if (result != -1 || errno != EINPROGRESS)
            FAIL("raw non-blocking connect() gave %d (%s), expected -1 EINPROGRESS", result, strerror(errno));
        check_configured(nonblocking, "raw non-blocking after connect()");
        close(nonblocking);
        close(listener);
    }
    return finish();
}

/* A listener the library never saw (made by system call): accept() and accept4() configure. */
static int accept_raw_listener(void) {
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        struct sockaddr_storage address, peer;
        socklen_t length, peer_length = sizeof peer;
        int listener = raw_listener(family, &address, &length);
        int first = raw_socket(family, SOCK_STREAM), second = raw_socket(family, SOCK_STREAM);
        raw_connect(first, (struct sockaddr *)&address, length);
        raw_connect(second, (struct sockaddr *)&address, length);
        int accepted = SUCCEEDS(accept(listener, (struct sockaddr *)&peer, &peer_length));
        if (peer.ss_family != family)
            FAIL("accept() returned address family %d, expected %d", peer.ss_family, family);
        check_configured(accepted, "after accept()");
        int accepted4 = SUCCEEDS(accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
        check_configured(accepted4, "after accept4()");
        if (!(fcntl(accepted4, F_GETFD) & FD_CLOEXEC) || !(fcntl(accepted4, F_GETFL) & O_NONBLOCK))
            FAIL("accept4() lost SOCK_CLOEXEC|SOCK_NONBLOCK");
        check_keepalive_off(first, "the raw client");
        close(accepted);
        close(accepted4);
        close(first);
        close(second);
        close(listener);
    }
    return finish();
}

/* A listener made through socket() passes its options on: the kernel copies them to accepted
 * sockets, so even an accept made by system call (invisible to us) is configured. */
static int listener_passes_options(void) {
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        struct sockaddr_storage address;
        socklen_t length = loopback(family, 0, &address);
        int listener = SUCCEEDS(socket(family, SOCK_STREAM, 0));
        SUCCEEDS(bind(listener, (struct sockaddr *)&address, length));
        SUCCEEDS(listen(listener, 4));
        SUCCEEDS(getsockname(listener, (struct sockaddr *)&address, &length));
        check_configured(listener, "listener");
        int client = raw_socket(family, SOCK_STREAM);
        raw_connect(client, (struct sockaddr *)&address, length);
        int accepted = raw_accept(listener);
        check_configured(accepted, "accepted by system call from a socket() listener");
        close(accepted);
        close(client);
        close(listener);
    }
    return finish();
}

/* The program's own settings win: keepalive it turned on is not touched at connect(). */
static int program_choice(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int one = 1, idle = 77, interval = 7, count = 7;

    int fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count));
    SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1, "after connect()");
    check_value(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", idle, "after connect()");
    check_value(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", interval, "after connect()");
    check_value(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", count, "after connect()");
    close(fd);

    int raw = raw_socket(AF_INET, SOCK_STREAM);
    setsockopt(raw, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(raw, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    SUCCEEDS(connect(raw, (struct sockaddr *)&address, length));
    check_value(raw, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", idle, "raw socket after connect()");
    close(raw);

    /* Turning keepalive off once connected is respected. */
    int off = 0;
    fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off));
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0, "after the program turned it off");
    close(fd);
    close(listener);
    return finish();
}

/* Raw sockets with protocol IPPROTO_TCP (SO_PROTOCOL 6, SO_TYPE SOCK_RAW) are not TCP: keepalive
 * stays off through connect(), even after the program turned it off itself, in every mode. Made
 * through socket() and by system call alike. Needs CAP_NET_RAW. */
static int raw_tcp(void) {
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        for (int by_system_call = 0; by_system_call < 2; by_system_call++) {
            int fd = by_system_call ? (int)syscall(SYS_socket, family, SOCK_RAW, IPPROTO_TCP)
                                    : socket(family, SOCK_RAW, IPPROTO_TCP);
            if (fd < 0 && (errno == EPERM || errno == EACCES)) {
                printf("SKIP raw_tcp: no CAP_NET_RAW for a raw socket\n");
                return 77;
            }
            if (fd < 0) {
                FAIL("socket(SOCK_RAW, IPPROTO_TCP): %s", strerror(errno));
                return 1;
            }
            int off = 0;
            SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off));
            struct sockaddr_storage address;
            socklen_t length = loopback(family, 0, &address);
            SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
            check_keepalive_off(fd, by_system_call ? "a raw TCP socket made by system call, after connect()"
                                                   : "a raw TCP socket after connect()");
            SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
            check_keepalive_off(fd, "a raw TCP socket connected twice");
            close(fd);
        }
    }
    return finish();
}

/* errno after every successful hooked call is what it was before. */
static int errno_kept(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int client = SUCCEEDS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    SUCCEEDS(connect(client, (struct sockaddr *)&address, length));
    int raw_client = raw_socket(AF_INET, SOCK_STREAM);
    SUCCEEDS(connect(raw_client, (struct sockaddr *)&address, length));
    int accepted = SUCCEEDS(accept(listener, NULL, NULL));
    int accepted4 = SUCCEEDS(accept4(listener, NULL, NULL, SOCK_CLOEXEC));
    int udp = SUCCEEDS(socket(AF_INET, SOCK_DGRAM, 0));
    int fds[] = {udp, accepted4, accepted, raw_client, client, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    return finish();
}

/* Failing calls: the hooked call and the bare system call give the same -1 and errno. */
static void same_failure(const char *what, int hooked, int hooked_errno, int raw, int raw_errno) {
    if (hooked != -1 || raw != -1)
        FAIL("%s: expected both calls to fail, got %d and %d", what, hooked, raw);
    else if (hooked_errno != raw_errno)
        FAIL("%s: errno %d (%s) under the library, %d (%s) from the system call", what, hooked_errno,
             strerror(hooked_errno), raw_errno, strerror(raw_errno));
}

#define COMPARE(what, hooked_call, raw_call)                          \
    do {                                                              \
        errno = 0;                                                    \
        int hooked_ = (int)(hooked_call);                             \
        int hooked_errno_ = errno;                                    \
        errno = 0;                                                    \
        int raw_ = (int)(raw_call);                                   \
        same_failure(what, hooked_, hooked_errno_, raw_, errno);      \
    } while (0)

static int failing_calls(void) {
    COMPARE("socket(AF_INET, SOCK_STREAM, 9999)", socket(AF_INET, SOCK_STREAM, 9999),
            syscall(SYS_socket, AF_INET, SOCK_STREAM, 9999));
    COMPARE("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP),
            syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_UDP));
    COMPARE("socket(4242, SOCK_STREAM, 0)", socket(4242, SOCK_STREAM, 0),
            syscall(SYS_socket, 4242, SOCK_STREAM, 0));
    COMPARE("socket() with an unknown type flag", socket(AF_INET, SOCK_STREAM | 0x1000, 0),
            syscall(SYS_socket, AF_INET, SOCK_STREAM | 0x1000, 0));

    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0)
        FAIL("pipe: %s", strerror(errno));
    COMPARE("connect(-1)", connect(-1, (struct sockaddr *)&address, length),
            syscall(SYS_connect, -1, &address, length));
    COMPARE("connect(a pipe)", connect(pipe_fds[0], (struct sockaddr *)&address, length),
            syscall(SYS_connect, pipe_fds[0], &address, length));

    int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
    COMPARE("connect(NULL address)", connect(a, NULL, length), syscall(SYS_connect, b, NULL, length));
    COMPARE("connect(invalid address pointer)", connect(a, (struct sockaddr *)8, length),
            syscall(SYS_connect, b, (struct sockaddr *)8, length));
    COMPARE("connect(short length)", connect(a, (struct sockaddr *)&address, 3),
            syscall(SYS_connect, b, &address, 3));
    struct sockaddr_storage closed;
    socklen_t closed_length = loopback(AF_INET, 0, &closed);
    int spare = raw_socket(AF_INET, SOCK_STREAM);
    syscall(SYS_bind, spare, &closed, closed_length);
    getsockname(spare, (struct sockaddr *)&closed, &closed_length); /* bound, never listening */
    COMPARE("connect(to a closed port)", connect(a, (struct sockaddr *)&closed, closed_length),
            syscall(SYS_connect, b, &closed, closed_length));
    close(a);
    close(b);

    int idle = raw_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    COMPARE("accept(-1)", accept(-1, NULL, NULL), syscall(SYS_accept, -1, NULL, NULL));
    COMPARE("accept(a pipe)", accept(pipe_fds[0], NULL, NULL), syscall(SYS_accept, pipe_fds[0], NULL, NULL));
    COMPARE("accept(not listening)", accept(idle, NULL, NULL), syscall(SYS_accept, idle, NULL, NULL));
#ifdef __GLIBC__
    /* musl's accept4() answers the kernel's EINVAL by retrying as a blocking accept(). */
    COMPARE("accept4(bad flags)", accept4(listener, NULL, NULL, 0x7), syscall(SYS_accept4, listener, NULL, NULL, 0x7));
#endif
    int nonblocking_listener = raw_listener(AF_INET, &address, &length);
    fcntl(nonblocking_listener, F_SETFL, O_NONBLOCK);
    COMPARE("accept(nothing pending)", accept(nonblocking_listener, NULL, NULL),
            syscall(SYS_accept, nonblocking_listener, NULL, NULL));
    COMPARE("accept4(nothing pending)", accept4(nonblocking_listener, NULL, NULL, 0),
            syscall(SYS_accept4, nonblocking_listener, NULL, NULL, 0));

    /* Out of descriptors: socket() and accept() fail with EMFILE exactly as without us. */
    int pending = raw_socket(AF_INET, SOCK_STREAM);
    raw_connect(pending, (struct sockaddr *)&address, length);
    struct rlimit saved;
    int filler[64], filled = use_up_descriptors(64, filler, &saved);
    COMPARE("socket() with no descriptor left", socket(AF_INET, SOCK_STREAM, 0),
            syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
    COMPARE("accept() with no descriptor left", accept(nonblocking_listener, NULL, NULL),
            syscall(SYS_accept, nonblocking_listener, NULL, NULL));
    COMPARE("accept4() with no descriptor left", accept4(nonblocking_listener, NULL, NULL, 0),
            syscall(SYS_accept4, nonblocking_listener, NULL, NULL, 0));
    give_back_descriptors(filler, filled, &saved);
    int late = SUCCEEDS(accept(nonblocking_listener, NULL, NULL));
    check_configured(late, "accepted after descriptors were freed");

    int fds[] = {late, pending, nonblocking_listener, idle, spare, listener, pipe_fds[0], pipe_fds[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    return finish();
}

static void on_alarm(int signal) {
    (void)signal;
}

/* Waits, 5 s at most, until the listener's accept queue is full, so that it drops new SYNs: the
 * handshakes of the connections made before complete in softirq context, which load can delay.
 * A listener's TCP_INFO gives the queue's length (tcpi_unacked) and its backlog (tcpi_sacked).
 * Returns 0, having failed, if it does not fill. */
static int wait_until_queue_full(int listener) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    struct tcp_info info = {0};
    for (int tries = 0; tries < 500; tries++) {
        socklen_t size = sizeof info;
        if (getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
            FAIL("TCP_INFO of the listener: %s", strerror(errno));
            return 0;
        }
        if (info.tcpi_unacked > info.tcpi_sacked)
            return 1;
        nanosleep(&pause, NULL);
    }
    FAIL("the listener's queue holds %u connections after 5 s, backlog %u", info.tcpi_unacked, info.tcpi_sacked);
    return 0;
}

/* A blocking connect() to a listener whose queue is full, so that its SYNs go unanswered: with
 * TCP_USER_TIMEOUT set before the SYN it fails with ETIMEDOUT after that time (EXPECT_USER_TIMEOUT
 * ms), not after the minutes of SYN retries. RAW=1 makes the socket by system call, so that only
 * connect() can configure it. An alarm bounds the wait. */
static int syn_timeout(void) {
    struct sockaddr_storage address;
    socklen_t length = loopback(AF_INET, 0, &address);
    int listener = raw_socket(AF_INET, SOCK_STREAM);
    if (syscall(SYS_bind, listener, &address, length) != 0 || syscall(SYS_listen, listener, 0) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0)
        FAIL("listener: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        raw_connect(raw_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK), (struct sockaddr *)&address, length);
    if (!wait_until_queue_full(listener))
        return finish();
    long limit = expected("EXPECT_USER_TIMEOUT", 0);
    struct sigaction action = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &action, NULL);
    alarm((unsigned)(limit / 1000 + 5));
    int fd = expected("RAW", 0) ? raw_socket(AF_INET, SOCK_STREAM) : SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    errno = 0;
    int result = connect(fd, (struct sockaddr *)&address, length);
    int error = errno;
    clock_gettime(CLOCK_MONOTONIC, &end);
    alarm(0);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("connect() to a peer that drops SYNs: %s after %.2f s\n", result == 0 ? "connected" : strerror(error),
           seconds);
    if (result != -1 || error != ETIMEDOUT)
        FAIL("expected ETIMEDOUT, got %d (%s)", result, strerror(error));
    else if (seconds > (double)limit / 1000 + 1.5)
        FAIL("ETIMEDOUT after %.2f s, expected within %.1f s", seconds, (double)limit / 1000 + 1.5);
    return finish();
}

/* Moves `raw` (a socket made by system call, keepalive on with the program's own idle time
 * `idle`) onto the descriptor number of a socket made through socket() and closed: as recvmsg(),
 * dup2() or a raw system call can, without passing through the library. Returns that number. */
static int onto_a_closed_number(int raw, int idle) {
    int one = 1, number = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    close(number);
    syscall(SYS_setsockopt, raw, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    syscall(SYS_setsockopt, raw, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    if (dup2(raw, number) != number)
        FAIL("dup2: %s", strerror(errno));
    close(raw);
    return number;
}

static void *syn_timeout_thread(void *unused) {
    (void)unused;
    exit(syn_timeout());
}

/* syn_timeout from a thread, after the main thread has exited: the process id then names a
 * thread that is gone, so the library must read the address by its own thread id. */
static int syn_timeout_after_main_exits(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, syn_timeout_thread, NULL) != 0) {
        FAIL("pthread_create");
        return finish();
    }
    pthread_exit(NULL);
}

/* Force mode: a socket on the descriptor number of a closed socket the library configured, with
 * the program's own idle time, is not mistaken for that socket, at connect() and as a listener at
 * accept(). EXPECT_FORCED=1: it gets EXPECT_IDLE; otherwise the program's choice stays. */
static int stale_numbers(void) {
    int own = 999, want = expected("EXPECT_FORCED", 0) ? (int)expected("EXPECT_IDLE", 0) : own;
    struct sockaddr_storage address, second;
    socklen_t length, second_length;
    int listener = raw_listener(AF_INET, &address, &length);
    int client = onto_a_closed_number(raw_socket(AF_INET, SOCK_STREAM), own);
    SUCCEEDS(connect(client, (struct sockaddr *)&address, length));
    check_value(client, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", want, "a socket on a closed socket's number");

    int server = onto_a_closed_number(raw_listener(AF_INET, &second, &second_length), own);
    int other = raw_socket(AF_INET, SOCK_STREAM);
    raw_connect(other, (struct sockaddr *)&second, second_length);
    int accepted = SUCCEEDS(accept(server, NULL, NULL));
    check_value(accepted, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", want,
                "accepted from a listener on a closed socket's number");
    int fds[] = {accepted, other, server, client, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    return finish();
}

/* Calls the kernel refuses give the bare system call's -1 and errno in every mode (peer rules,
 * force): nothing reads the program's arguments before the kernel has checked them, and force
 * mode never answers for the kernel. A refused connect() changes nothing on the socket. */
static int refusals(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int ours = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0)), raw = raw_socket(AF_INET, SOCK_STREAM);
    const void *invalid = (const void *)8;
    COMPARE("connect(invalid address pointer)", connect(ours, invalid, length),
            syscall(SYS_connect, raw, invalid, length));
    COMPARE("connect(NULL address)", connect(ours, NULL, length), syscall(SYS_connect, raw, NULL, length));

    int zero = 0, too_long = 40000;
    COMPARE("setsockopt(SO_KEEPALIVE, NULL value)", setsockopt(ours, SOL_SOCKET, SO_KEEPALIVE, NULL, sizeof zero),
            syscall(SYS_setsockopt, raw, SOL_SOCKET, SO_KEEPALIVE, NULL, sizeof zero));
    COMPARE("setsockopt(TCP_KEEPIDLE, invalid pointer)", setsockopt(ours, IPPROTO_TCP, TCP_KEEPIDLE, invalid, 4),
            syscall(SYS_setsockopt, raw, IPPROTO_TCP, TCP_KEEPIDLE, invalid, 4));
    COMPARE("setsockopt(TCP_KEEPIDLE, 0)", setsockopt(ours, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero),
            syscall(SYS_setsockopt, raw, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero));
    COMPARE("setsockopt(TCP_KEEPIDLE, 40000)", setsockopt(ours, IPPROTO_TCP, TCP_KEEPIDLE, &too_long, 4),
            syscall(SYS_setsockopt, raw, IPPROTO_TCP, TCP_KEEPIDLE, &too_long, 4));
    COMPARE("setsockopt(TCP_KEEPIDLE, 2 bytes)", setsockopt(ours, IPPROTO_TCP, TCP_KEEPIDLE, &too_long, 2),
            syscall(SYS_setsockopt, raw, IPPROTO_TCP, TCP_KEEPIDLE, &too_long, 2));
    close(raw);
    close(ours);
    COMPARE("setsockopt(a closed socket)", setsockopt(ours, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero),
            syscall(SYS_setsockopt, ours, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    int file = open("/dev/null", O_RDONLY);
    if (dup2(file, ours) != ours)
        FAIL("dup2: %s", strerror(errno));
    COMPARE("setsockopt(a file on a socket's old number)", setsockopt(ours, SOL_SOCKET, SO_KEEPALIVE, &zero, 4),
            syscall(SYS_setsockopt, ours, SOL_SOCKET, SO_KEEPALIVE, &zero, 4));
    close(file);
    int pair[2];
    SUCCEEDS(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    if (dup2(pair[0], ours) != ours)
        FAIL("dup2: %s", strerror(errno));
    SUCCEEDS(setsockopt(ours, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    check_keepalive_off(ours, "a UNIX socket on a TCP socket's old number");
    close(ours);
    close(pair[0]);
    close(pair[1]);

    int fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    int before = option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    int spare = raw_socket(AF_INET, SOCK_STREAM);
    raw_connect(spare, (struct sockaddr *)&address, length);
    COMPARE("connect(connected again)", connect(fd, (struct sockaddr *)&address, length),
            syscall(SYS_connect, spare, &address, length));
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", before, "after connect() refused with EISCONN");
    close(spare);
    close(fd);

    /* A non-blocking connect() asked again whether it completed: Linux answers 0 the first time. */
    fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    errno = 0;
    if (connect(fd, (struct sockaddr *)&address, length) != -1 || errno != EINPROGRESS)
        FAIL("non-blocking connect(): %s, expected EINPROGRESS", strerror(errno));
    struct pollfd ready = {.fd = fd, .events = POLLOUT};
    poll(&ready, 1, 2000);
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    before = option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    connect(fd, (struct sockaddr *)&address, length);
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", before, "after connect() asked again");
    close(fd);
    close(listener);
    return finish();
}

/* A program that turns keepalive off and picks its own idle time after socket(), before
 * connect(). Its calls succeed either way; what the kernel ends up with depends on
 * KEEPALIVE_FORCE (EXPECT_FORCED=1: the operator's values, given in EXPECT_IDLE, stay). */
static int force(void) {
    int forced = (int)expected("EXPECT_FORCED", 0);
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int zero = 0, idle = 77, interval = 9, one = 1;

    int fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval));
    SUCCEEDS(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    errno = 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, 2) != -1 || errno != EINVAL)
        FAIL("a too short value must fail with EINVAL as without the library, got %s", strerror(errno));
    SUCCEEDS(connect(fd, (struct sockaddr *)&address, length));
    /* Without force: keepalive back on at connect(), with the program's idle time. */
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1, "after connect()");
    check_value(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", forced ? (int)expected("EXPECT_IDLE", 0) : idle,
                "after connect()");
    check_value(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", interval, "an option the operator did not set");
    check_value(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1, "an unrelated option");

    /* Once connected, turning keepalive off works, unless forced. */
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", forced, "after turning it off once connected");
    /* Turning it on (again, when forced: the value force mode keeps). */
    SUCCEEDS(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    check_value(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1, "after turning it on");
    close(fd);

    /* Sockets the library did not configure are never held: UDP, and raw ones until connect(). */
    int udp = SUCCEEDS(socket(AF_INET, SOCK_DGRAM, 0));
    SUCCEEDS(setsockopt(udp, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    SUCCEEDS(setsockopt(udp, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    check_value(udp, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0, "a UDP socket");
    close(udp);
    int raw = raw_socket(AF_INET, SOCK_STREAM);
    SUCCEEDS(setsockopt(raw, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    SUCCEEDS(setsockopt(raw, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero));
    check_value(raw, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0, "a raw socket before connect()");
    close(raw);
    close(listener);
    return finish();
}

/* Connections to several loopback peers, made and accepted: prints which got keepalive, as
 * `LABEL.client=0|1 LABEL.server=0|1`, for the test to compare with what the rules select.
 * Listeners are made by system call, so that only connect() and accept() decide. PORT is the
 * listeners' port (the test picks a free one); PORT2 a second port on 127.0.0.1. */
static int filters(void) {
    static const struct {
        const char *label, *address;
        int family, port_variable;
    } peers[] = {
        {"a", "127.0.0.1", AF_INET, 0},  {"b", "127.0.0.2", AF_INET, 0},
        {"c", "::1", AF_INET6, 0},        {"d", "::ffff:127.0.0.1", AF_INET6, 0},
        {"e", "127.0.0.1", AF_INET, 1},
    };
    in_port_t ports[2] = {htons((in_port_t)expected("PORT", 0)), htons((in_port_t)expected("PORT2", 0))};
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        in_port_t port = ports[peers[i].port_variable];
        /* An IPv4-mapped peer is an IPv4 listener, reached from an IPv6 socket. */
        int mapped = strncmp(peers[i].address, "::ffff:", 7) == 0;
        struct sockaddr_storage address, target;
        socklen_t length = mapped ? address_of(AF_INET, peers[i].address + 7, port, &address)
                                  : address_of(peers[i].family, peers[i].address, port, &address);
        socklen_t target_length = address_of(peers[i].family, peers[i].address, port, &target);
        int listener = raw_socket(address.ss_family, SOCK_STREAM);
        int on = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (syscall(SYS_bind, listener, &address, length) != 0 || syscall(SYS_listen, listener, 4) != 0) {
            FAIL("listen on %s: %s", peers[i].address, strerror(errno));
            return finish();
        }
        int client = SUCCEEDS(socket(peers[i].family, SOCK_STREAM, 0));
        int early = option(client, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
        SUCCEEDS(connect(client, (struct sockaddr *)&target, target_length));
        int accepted = SUCCEEDS(accept(listener, NULL, NULL));
        printf("%s.socket=%d %s.client=%d %s.server=%d\n", peers[i].label, early, peers[i].label,
               option(client, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"), peers[i].label,
               option(accepted, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"));
        close(accepted);
        close(client);
        close(listener);
    }
    return failures ? 1 : 0;
}

static const struct {
    const char *name;
    int (*run)(void);
} scenarios[] = {
    {"ipv4", ipv4},
    {"ipv6", ipv6},
    {"ipproto_tcp", ipproto_tcp},
    {"mptcp", mptcp},
    {"untouched", untouched},
    {"raw_tcp", raw_tcp},
    {"raw_socket_connect", raw_socket_connect},
    {"accept_raw_listener", accept_raw_listener},
    {"listener_passes_options", listener_passes_options},
    {"program_choice", program_choice},
    {"errno_kept", errno_kept},
    {"failing_calls", failing_calls},
    {"force", force},
    {"refusals", refusals},
    {"syn_timeout", syn_timeout},
    {"syn_timeout_after_main_exits", syn_timeout_after_main_exits},
    {"stale_numbers", stale_numbers},
    {"filters", filters},
};

int main(int argc, char **argv) {
    size_t count = sizeof scenarios / sizeof scenarios[0];
    for (size_t i = 0; argc == 2 && i < count; i++)
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            current = scenarios[i].name;
            return scenarios[i].run();
        }
    fprintf(stderr, "usage: %s SCENARIO\nscenarios:", argv[0]);
    for (size_t i = 0; i < count; i++)
        fprintf(stderr, " %s", scenarios[i].name);
    fprintf(stderr, "\n");
    return 2;
}
