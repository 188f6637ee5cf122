/* The yardstick: the simplest correct LD_PRELOAD interposer that turns on TCP keepalive.
 * It hooks socket() only and reads its settings once, in the constructor. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

static int (*real_socket)(int, int, int);
static int idle, intvl, cnt, user_timeout_ms;

static int env(const char *name) {
    const char *value = getenv(name);
    return value ? atoi(value) : 0;
}

__attribute__((constructor)) static void init(void) {
    real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    idle = env("KEEPALIVE_IDLE");
    intvl = env("KEEPALIVE_INTVL");
    cnt = env("KEEPALIVE_CNT");
    user_timeout_ms = env("KEEPALIVE_USER_TIMEOUT") * 1000; /* a bare number means seconds */
}

static void set(int fd, int level, int name, int value) {
    if (value > 0)
        setsockopt(fd, level, name, &value, sizeof value);
}

int socket(int domain, int type, int protocol) {
    int fd = real_socket(domain, type, protocol);
    if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) &&
        (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP)) {
        set(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle);
        set(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl);
        set(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt);
        set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout_ms);
        set(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    }
    return fd;
}
