/* Faults around the library: `faults transcript [deny-setsockopt|deny-getsockopt|deny-both]`,
 * `faults dlopen_late` and `faults peer_rules allow|deny`.
 *
 * transcript installs a seccomp filter that makes setsockopt and/or getsockopt fail with EPERM
 * (the library's own calls are direct system calls, so the filter sees them too), then makes a
 * fixed series of socket calls and prints each one's result and errno, one line per call. The
 * test runs it with and without the library and requires the same transcript: whatever the
 * library tried and failed to do, the program cannot tell. Exits 1 only if the program's own
 * sockets stop working (data does not arrive).
 *
 * dlopen_late loads the library with dlopen() after making sockets (path in KEEPALIVE_LIBRARY). */
#include "check.h"

#include <dlfcn.h>
#include <stdint.h>
#include <sys/prctl.h>

/* The seccomp and classic BPF ABI, spelled out: musl's headers do not carry <linux/seccomp.h>. */
struct bpf_instruction {
    uint16_t code;
    uint8_t jump_true, jump_false;
    uint32_t operand;
};
struct bpf_program {
    unsigned short length;
    struct bpf_instruction *instructions;
};
enum {
    LOAD_WORD_AT = 0x20, /* BPF_LD | BPF_W | BPF_ABS */
    JUMP_IF_EQUAL = 0x15, /* BPF_JMP | BPF_JEQ | BPF_K */
    RETURN = 0x06,        /* BPF_RET | BPF_K */
    SECCOMP_DATA_NR = 0,  /* offsetof(struct seccomp_data, nr) */
    SECCOMP_DATA_ARCH = 4,
    FILTER_MODE = 1, /* SECCOMP_SET_MODE_FILTER */
};
#define SECCOMP_ALLOW 0x7fff0000u
#define SECCOMP_ERRNO 0x00050000u
#if defined(__x86_64__)
#define OUR_ARCH 0xc000003eu /* AUDIT_ARCH_X86_64 */
#elif defined(__aarch64__)
#define OUR_ARCH 0xc00000b7u /* AUDIT_ARCH_AARCH64 */
#endif

static void deny(long first, long second) {
    struct bpf_instruction program[] = {
        {LOAD_WORD_AT, 0, 0, SECCOMP_DATA_ARCH},
        {JUMP_IF_EQUAL, 1, 0, OUR_ARCH},
        {RETURN, 0, 0, SECCOMP_ALLOW},
        {LOAD_WORD_AT, 0, 0, SECCOMP_DATA_NR},
        {JUMP_IF_EQUAL, 2, 0, (uint32_t)first},
        {JUMP_IF_EQUAL, 1, 0, (uint32_t)second},
        {RETURN, 0, 0, SECCOMP_ALLOW},
        {RETURN, 0, 0, SECCOMP_ERRNO | EPERM},
    };
    struct bpf_program filter = {sizeof program / sizeof program[0], program};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, FILTER_MODE, 0, &filter) != 0) {
        printf("FAIL cannot install the seccomp filter: %s\n", strerror(errno));
        exit(1);
    }
}

/* One transcript line: the call as written, its result, and errno (SENTINEL when untouched). */
#define LOG(call)                                                               \
    __extension__({                                                             \
        errno = SENTINEL;                                                       \
        long result_ = (long)(call);                                            \
        int errno_ = errno;                                                     \
        printf("%-72s = %ld", #call, result_);                                  \
        if (errno_ == SENTINEL)                                                 \
            printf("\n");                                                       \
        else                                                                    \
            printf(" errno %d (%s)\n", errno_, strerror(errno_));               \
        (int)result_;                                                           \
    })

/* RLIMIT_NOFILE reached with a connection pending: socket(), accept() and accept4() fail. */
static int no_descriptors(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int pending = raw_socket(AF_INET, SOCK_STREAM);
    raw_connect(pending, (struct sockaddr *)&address, length);
    struct rlimit saved;
    int filler[64], filled = use_up_descriptors(32, filler, &saved);
    LOG(socket(AF_INET, SOCK_STREAM, 0));
    LOG(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP));
    LOG(accept(listener, NULL, NULL));
    LOG(accept4(listener, NULL, NULL, SOCK_CLOEXEC));
    close(filler[--filled]);
    int accepted = LOG(accept(listener, NULL, NULL));
    LOG(socket(AF_INET, SOCK_STREAM, 0));
    give_back_descriptors(filler, filled, &saved);
    close(accepted);
    close(pending);
    close(listener);
    return 0;
}

static int transcript(const char *mode) {
    if (strcmp(mode, "no-descriptors") == 0)
        return no_descriptors();
    if (strcmp(mode, "deny-setsockopt") == 0)
        deny(SYS_setsockopt, -1);
    else if (strcmp(mode, "deny-getsockopt") == 0)
        deny(SYS_getsockopt, -1);
    else if (strcmp(mode, "deny-both") == 0)
        deny(SYS_setsockopt, SYS_getsockopt);
    else if (strcmp(mode, "allow") != 0)
        return 2;
    int one = 1, value = -1;
    socklen_t value_length = sizeof value;
    struct sockaddr_storage address;
    socklen_t length = loopback(AF_INET, 0, &address);
    struct sockaddr *target = (struct sockaddr *)&address;

    int listener = LOG(socket(AF_INET, SOCK_STREAM, 0));
    LOG(setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    LOG(bind(listener, target, length));
    LOG(listen(listener, 8));
    LOG(getsockname(listener, target, &length));
    int client = LOG(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    LOG(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    LOG(connect(client, target, length));
    int accepted = LOG(accept(listener, NULL, NULL));
    int raw_client = LOG(raw_socket(AF_INET, SOCK_STREAM));
    LOG(connect(raw_client, target, length));
    int accepted4 = LOG(accept4(listener, NULL, NULL, SOCK_NONBLOCK));
    LOG(getsockopt(client, SOL_SOCKET, SO_KEEPALIVE, &value, &value_length));
    printf("  value %d\n", value);
    LOG(getsockopt(accepted4, IPPROTO_TCP, TCP_KEEPIDLE, &value, &value_length));
    printf("  value %d\n", value);
    LOG(accept(accepted4, NULL, NULL));
    LOG(connect(-1, target, length));
    LOG(socket(AF_INET, SOCK_STREAM, 4242));

    char received[8] = "";
    LOG(write(client, "ping", 4));
    LOG(read(accepted, received, sizeof received));
    LOG(write(raw_client, "pong", 4));
    LOG(recv(accepted4, received + 4, sizeof received - 4, MSG_WAITALL));
    int working = memcmp(received, "pingpong", 8) == 0;
    printf("  received %.8s\n", received);

    int udp = LOG(socket(AF_INET6, SOCK_DGRAM, 0));
    LOG(connect(udp, target, length));
    int fds[] = {udp, accepted4, raw_client, accepted, client, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        LOG(close(fds[i]));
    if (!working)
        printf("FAIL the sockets did not carry data\n");
    return working ? 0 : 1;
}

static int keepalive_of(int fd) {
    int value = -1;
    socklen_t length = sizeof value;
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &value, &length);
    return value;
}

/* The library loaded late: its constructor runs inside dlopen(). The program's own calls are
 * already bound to the C library, so sockets it makes stay as they are; only calls made through
 * the library's own symbols (dlsym on its handle) are hooked. Nothing may break either way. */
static int dlopen_late(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int before = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    void *library = dlopen(getenv("KEEPALIVE_LIBRARY"), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        FAIL("dlopen: %s", dlerror());
        return finish();
    }
    int after = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(connect(before, (struct sockaddr *)&address, length));
    SUCCEEDS(connect(after, (struct sockaddr *)&address, length));
    int accepted = SUCCEEDS(accept(listener, NULL, NULL));
    int plain[] = {before, after, accepted};
    for (size_t i = 0; i < 3; i++)
        if (keepalive_of(plain[i]) != 0)
            FAIL("a socket made through the program's own calls has keepalive");

    int (*hooked_socket)(int, int, int) = (int (*)(int, int, int))dlsym(library, "socket");
    int (*hooked_connect)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))dlsym(library, "connect");
    int (*hooked_accept)(int, struct sockaddr *, socklen_t *) =
        (int (*)(int, struct sockaddr *, socklen_t *))dlsym(library, "accept");
    if (!hooked_socket || !hooked_connect || !hooked_accept) {
        FAIL("dlsym: %s", dlerror());
        return finish();
    }
    /* On musl, dlsym(RTLD_NEXT) from a library loaded this way finds nothing after it, so these
     * go to the kernel directly; the results must be the same. */
    int through_library = SUCCEEDS(hooked_socket(AF_INET, SOCK_STREAM, 0));
    check_configured(through_library, "socket() through the late library");
    SUCCEEDS(hooked_connect(through_library, (struct sockaddr *)&address, length));
    int raw = raw_socket(AF_INET, SOCK_STREAM);
    SUCCEEDS(hooked_connect(raw, (struct sockaddr *)&address, length));
    check_configured(raw, "a raw socket after connect() through the late library");
    int accepted_late = SUCCEEDS(hooked_accept(listener, NULL, NULL));
    check_configured(accepted_late, "accept() through the late library");
    errno = 0;
    int failed = hooked_socket(AF_INET, SOCK_STREAM, 4242), failed_errno = errno;
    errno = 0;
    if (failed != -1 || syscall(SYS_socket, AF_INET, SOCK_STREAM, 4242) != -1 || errno != failed_errno)
        FAIL("a failing socket() through the late library: %d, %s", failed, strerror(failed_errno));

    if (dlclose(library) != 0)
        FAIL("dlclose: %s", dlerror());
    int last = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(connect(last, (struct sockaddr *)&address, length));
    int fds[] = {last, accepted_late, raw, through_library, accepted, after, before, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    return finish();
}

/* Peer rules read the program's address through process_vm_readv() before connect(); with that
 * call forbidden (some container profiles do), they decide once the kernel has read it. A `deny`
 * argument installs the filter. Selected connections are configured all the same, and an
 * invalid address is the kernel's EFAULT, never a crash. */
static int peer_rules(int denied) {
    if (denied)
        deny(SYS_process_vm_readv, -1);
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    int blocking = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    SUCCEEDS(connect(blocking, (struct sockaddr *)&address, length));
    check_configured(blocking, "after a blocking connect()");
    int nonblocking = SUCCEEDS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    errno = 0;
    if (connect(nonblocking, (struct sockaddr *)&address, length) != -1 || errno != EINPROGRESS)
        FAIL("non-blocking connect(): %s, expected EINPROGRESS", strerror(errno));
    check_configured(nonblocking, "after a non-blocking connect()");
    int invalid = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    errno = 0;
    if (connect(invalid, (const struct sockaddr *)8, length) != -1 || errno != EFAULT)
        FAIL("connect() to an invalid pointer: %s, expected EFAULT", strerror(errno));
    /* The older IPv6 address without its scope id (RFC 2133), which the kernel still takes. */
    struct sockaddr_storage six;
    socklen_t six_length;
    int six_listener = raw_listener(AF_INET6, &six, &six_length);
    int short_six = SUCCEEDS(socket(AF_INET6, SOCK_STREAM, 0));
    SUCCEEDS(connect(short_six, (struct sockaddr *)&six, 24));
    check_configured(short_six, "after connect() with a 24-byte IPv6 address");
    int fds[] = {short_six, six_listener, invalid, nonblocking, blocking, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    return finish();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "transcript") == 0)
        return transcript(argv[2]);
    if (argc == 2 && strcmp(argv[1], "dlopen_late") == 0) {
        current = "dlopen_late";
        return dlopen_late();
    }
    if (argc == 3 && strcmp(argv[1], "peer_rules") == 0) {
        current = "peer_rules";
        return peer_rules(strcmp(argv[2], "deny") == 0);
    }
    fprintf(stderr,
            "usage: %s transcript allow|deny-setsockopt|deny-getsockopt|deny-both|no-descriptors | dlopen_late | "
            "peer_rules allow|deny\n",
            argv[0]);
    return 2;
}
