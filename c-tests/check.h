/* Shared checks for the C test programs: what the kernel reports for a socket, compared with what
 * the test expects. Expectations come from EXPECT_KEEPALIVE (0/1), EXPECT_IDLE, EXPECT_INTVL,
 * EXPECT_CNT (seconds, probes) and EXPECT_USER_TIMEOUT (ms); an unset timer expects the kernel's
 * default, read from /proc/sys. Failures are printed on stdout, so that stderr holds only what
 * the library itself writes. */
#ifndef CHECK_H
#define CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef TCP_USER_TIMEOUT
#define TCP_USER_TIMEOUT 18
#endif

static const char *current = "";
static int failures;
static int check_user_timeout = 1;

#define FAIL(...)                                  \
    do {                                           \
        printf("FAIL %s: ", current);              \
        printf(__VA_ARGS__);                       \
        printf("\n");                              \
        fflush(stdout);                            \
        failures++;                                \
    } while (0)

/* An errno value no call sets: a successful hooked call must leave it in place. */
#define SENTINEL 4242

/* Runs a call that must succeed and must not touch errno. */
#define SUCCEEDS(call)                                                                  \
    __extension__({                                                                    \
        errno = SENTINEL;                                                              \
        long result_ = (long)(call);                                                   \
        if (result_ < 0)                                                               \
            FAIL("%s failed: %s", #call, strerror(errno));                             \
        else if (errno != SENTINEL)                                                    \
            FAIL("%s succeeded but changed errno from %d to %d", #call, SENTINEL, errno); \
        (int)result_;                                                                  \
    })

static __attribute__((unused)) long sysctl_value(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv4/%s", name);
    FILE *file = fopen(path, "r");
    long value = -1;
    if (!file || fscanf(file, "%ld", &value) != 1)
        FAIL("cannot read %s", path);
    if (file)
        fclose(file);
    return value;
}

static __attribute__((unused)) long expected(const char *variable, long fallback) {
    const char *text = getenv(variable);
    return text ? strtol(text, NULL, 10) : fallback;
}

static __attribute__((unused)) int option(int fd, int level, int name, const char *label) {
    int value = -1;
    socklen_t length = sizeof value;
    if (getsockopt(fd, level, name, &value, &length) != 0)
        FAIL("getsockopt %s on fd %d: %s", label, fd, strerror(errno));
    return value;
}

/* What the configuration under test should have produced on a TCP socket. */
static __attribute__((unused)) void check_configured(int fd, const char *when) {
    long want[5] = {
        expected("EXPECT_KEEPALIVE", 1),
        expected("EXPECT_IDLE", sysctl_value("tcp_keepalive_time")),
        expected("EXPECT_INTVL", sysctl_value("tcp_keepalive_intvl")),
        expected("EXPECT_CNT", sysctl_value("tcp_keepalive_probes")),
        expected("EXPECT_USER_TIMEOUT", 0),
    };
    int got[5] = {
        option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE") != 0,
        option(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"),
        option(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"),
        option(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"),
        check_user_timeout ? option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT") : 0,
    };
    static const char *names[5] = {"SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
                                   "TCP_USER_TIMEOUT"};
    for (int i = 0; i < 4 + check_user_timeout; i++)
        if (got[i] != want[i])
            FAIL("fd %d %s: %s is %d, expected %ld", fd, when, names[i], got[i], want[i]);
}

/* The same expectations, read once, for checks where FAIL cannot be used: threads, forked
 * children, signal handlers. */
struct wanted {
    int values[5];
};

static __attribute__((unused)) struct wanted wanted_now(void) {
    struct wanted want = {{
        (int)expected("EXPECT_KEEPALIVE", 1),
        (int)expected("EXPECT_IDLE", sysctl_value("tcp_keepalive_time")),
        (int)expected("EXPECT_INTVL", sysctl_value("tcp_keepalive_intvl")),
        (int)expected("EXPECT_CNT", sysctl_value("tcp_keepalive_probes")),
        (int)expected("EXPECT_USER_TIMEOUT", 0),
    }};
    return want;
}

/* 0 when the kernel reports exactly `want` for the TCP socket `fd`; otherwise one bit per option
 * that differs (or could not be read). Async-signal-safe: getsockopt only. */
static __attribute__((unused)) int mismatches(int fd, const struct wanted *want) {
    static const int levels[5] = {SOL_SOCKET, IPPROTO_TCP, IPPROTO_TCP, IPPROTO_TCP, IPPROTO_TCP};
    static const int names[5] = {SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT};
    int bits = 0;
    for (int i = 0; i < 5; i++) {
        int value = -1;
        socklen_t length = sizeof value;
        if (getsockopt(fd, levels[i], names[i], &value, &length) != 0 || (i == 0 ? value != 0 : value) != want->values[i])
            bits |= 1 << i;
    }
    return bits;
}

static __attribute__((unused)) void check_keepalive_off(int fd, const char *what) {
    if (option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE") != 0)
        FAIL("%s has SO_KEEPALIVE on; it must be left untouched", what);
}

static __attribute__((unused)) void check_value(int fd, int level, int name, const char *label, int want, const char *when) {
    int got = option(fd, level, name, label);
    if (got != want)
        FAIL("fd %d %s: %s is %d, expected %d", fd, when, label, got, want);
}

/* The address `text` of `family` with `port` (network order). */
static __attribute__((unused)) socklen_t address_of(int family, const char *text, in_port_t port,
                                                    struct sockaddr_storage *address) {
    memset(address, 0, sizeof *address);
    if (family == AF_INET6) {
        struct sockaddr_in6 *six = (struct sockaddr_in6 *)address;
        six->sin6_family = AF_INET6;
        six->sin6_port = port;
        if (inet_pton(AF_INET6, text, &six->sin6_addr) != 1)
            FAIL("bad IPv6 address %s", text);
        return sizeof *six;
    }
    struct sockaddr_in *four = (struct sockaddr_in *)address;
    four->sin_family = AF_INET;
    four->sin_port = port;
    if (inet_pton(AF_INET, text, &four->sin_addr) != 1)
        FAIL("bad IPv4 address %s", text);
    return sizeof *four;
}

/* A loopback address of `family` with `port` (network order). */
static __attribute__((unused)) socklen_t loopback(int family, in_port_t port, struct sockaddr_storage *address) {
    return address_of(family, family == AF_INET6 ? "::1" : "127.0.0.1", port, address);
}

/* Sockets made by system call, which our hooks never see: like descriptors inherited from a
 * parent, handed over by systemd or inetd, or created by a statically linked helper. */
static __attribute__((unused)) int raw_socket(int family, int type) {
    return (int)syscall(SYS_socket, family, type, 0);
}

static __attribute__((unused)) int raw_connect(int fd, const struct sockaddr *address, socklen_t length) {
    return (int)syscall(SYS_connect, fd, address, length);
}

static __attribute__((unused)) int raw_accept(int fd) {
    return (int)syscall(SYS_accept4, fd, NULL, NULL, 0);
}

/* A listener on loopback made by system call, so it has no keepalive of its own. */
static __attribute__((unused)) int raw_listener(int family, struct sockaddr_storage *address, socklen_t *length) {
    int fd = raw_socket(family, SOCK_STREAM);
    *length = loopback(family, 0, address);
    if (fd < 0 || syscall(SYS_bind, fd, address, *length) != 0 || syscall(SYS_listen, fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)address, length) != 0) {
        FAIL("raw listener: %s", strerror(errno));
        exit(1);
    }
    return fd;
}

/* Closes a connected socket with a reset (SO_LINGER 0), so that it leaves no TIME_WAIT behind to
 * hold a loopback port. Async-signal-safe. */
static __attribute__((unused)) void close_with_reset(int fd) {
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
}

/* Lowers RLIMIT_NOFILE to `limit` (at most 64) and takes every descriptor left, keeping them in
 * `filler`; returns how many. `saved` receives the old limit for give_back_descriptors(). */
static __attribute__((unused)) int use_up_descriptors(rlim_t limit, int filler[64], struct rlimit *saved) {
    getrlimit(RLIMIT_NOFILE, saved);
    struct rlimit low = *saved;
    low.rlim_cur = limit;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0)
        FAIL("setrlimit: %s", strerror(errno));
    int filled = 0;
    while (filled < 64 && (filler[filled] = dup(0)) >= 0)
        filled++;
    return filled;
}

static __attribute__((unused)) void give_back_descriptors(int filler[64], int filled, const struct rlimit *saved) {
    while (filled > 0)
        close(filler[--filled]);
    setrlimit(RLIMIT_NOFILE, saved);
}

static __attribute__((unused)) int finish(void) {
    if (failures == 0)
        printf("ok %s\n", current);
    return failures ? 1 : 0;
}

#endif
