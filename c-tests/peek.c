/* peek PID FD: print the keepalive options the kernel holds for another process's TCP socket.
 *
 * pidfd_getfd (Linux >= 5.6) gives us a duplicate of the target's descriptor, which refers to
 * the same socket, so getsockopt on it reads the target's options without touching the target.
 * PID may be a thread's ID, which stands for its process (Linux >= 6.9): the way in once the
 * process's main thread has exited. Needs root or ptrace permission over PID. Output, on one line:
 *   SO_KEEPALIVE=1 TCP_KEEPIDLE=5 TCP_KEEPINTVL=2 TCP_KEEPCNT=3 TCP_USER_TIMEOUT=0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Same numbers on every architecture; older headers may not have them. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static const char *prog = "peek";

/* Print "peek: MESSAGE" and return the exit status for failure. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int parse(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long pid, fd;
    if (argc != 3 || parse(argv[1], INT_MAX, &pid) || parse(argv[2], INT_MAX, &fd)) {
        fprintf(stderr, "usage: %s PID FD  (print keepalive options of socket FD in process PID)\n",
                prog);
        return 1;
    }

    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
    /* Not a process but one of its threads: a pidfd of the thread (PIDFD_THREAD, Linux 6.9)
     * reaches the same descriptors, also after the process's main thread has exited. Kernels
     * refuse a thread's ID without the flag with EINVAL, newer ones (6.18) with ENOENT. */
    if (pidfd < 0 && (errno == EINVAL || errno == ENOENT))
        pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, (unsigned)PIDFD_THREAD);
    if (pidfd < 0) {
        int e = errno;
        if (e == ESRCH)
            return fail("no process %ld", pid);
        if (e == ENOSYS)
            return fail("pidfd_open is not supported, needs Linux >= 5.6");
        return fail("pidfd_open(%ld): %s", pid, strerror(e));
    }

    int sock = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0u);
    int e = errno;
    close(pidfd);
    if (sock < 0) {
        if (e == EPERM)
            return fail("cannot read fd %ld of process %ld: permission denied, "
                        "needs root or ptrace permission over the process",
                        fd, pid);
        if (e == EBADF)
            return fail("process %ld has no fd %ld", pid, fd);
        if (e == ESRCH)
            return fail("process %ld has exited", pid);
        if (e == ENOSYS)
            return fail("pidfd_getfd is not supported, needs Linux >= 5.6");
        return fail("pidfd_getfd(process %ld, fd %ld): %s", pid, fd, strerror(e));
    }

    int type = 0, proto = 0;
    socklen_t len = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        e = errno;
        close(sock);
        if (e == ENOTSOCK)
            return fail("fd %ld of process %ld is not a socket", fd, pid);
        return fail("getsockopt(SO_TYPE) on fd %ld of process %ld: %s", fd, pid, strerror(e));
    }
    len = sizeof proto;
    if (getsockopt(sock, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 || type != SOCK_STREAM ||
        proto != IPPROTO_TCP) {
        close(sock);
        return fail("fd %ld of process %ld is not a TCP socket", fd, pid);
    }

    static const struct {
        const char *name;
        int level, opt;
    } opts[] = {
        {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
        {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE},
        {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL},
        {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT},
        {"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT},
    };
    int values[sizeof opts / sizeof opts[0]];
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        len = sizeof values[i];
        if (getsockopt(sock, opts[i].level, opts[i].opt, &values[i], &len) < 0) {
            e = errno;
            close(sock);
            return fail("getsockopt(%s) on fd %ld of process %ld: %s", opts[i].name, fd, pid,
                        strerror(e));
        }
    }
    close(sock);

    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        printf("%s%s=%d", i ? " " : "", opts[i].name, values[i]);
    putchar('\n');
    return fflush(stdout) == 0 ? 0 : 1;
}
