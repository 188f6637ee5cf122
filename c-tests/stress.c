/* Load: `stress THREADS SOCKETS` runs THREADS threads at once, each making SOCKETS loopback
 * connections through socket(), connect() and accept()/accept4(), and checking with getsockopt,
 * before close, that the client and the accepted socket both carry the configured options (the
 * EXPECT_* variables of check.h). Half the threads listen on a socket made by system call, so
 * that accept() has to configure; every fourth client is made by system call, so that connect()
 * has to. At the end the process must hold exactly the descriptors it held at the start.
 *
 * It first moves into a network namespace of its own (when allowed), so that its connections
 * never touch the machine's loopback; clients close with SO_LINGER 0 (a reset), so that none
 * lingers in TIME_WAIT either way. Prints one line of figures. */
#include "check.h"

#include <dirent.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <time.h>

static struct wanted want;
static int sockets_per_thread;
static atomic_long checked, wrong, failed_calls;

static void report(const char *what, int fd, int bits) {
    /* Only the first few, so that a broken run stays readable. */
    if (atomic_fetch_add(&wrong, 1) < 5)
        printf("FAIL stress: %s fd %d: options differ (bits %#x)\n", what, fd, bits);
}

static void verify(int fd, const char *what) {
    int bits = mismatches(fd, &want);
    if (bits)
        report(what, fd, bits);
    atomic_fetch_add(&checked, 1);
}

static int call_failed(const char *call) {
    if (atomic_fetch_add(&failed_calls, 1) < 5)
        printf("FAIL stress: %s: %s\n", call, strerror(errno));
    return 1;
}

static void *connections(void *argument) {
    long index = (long)argument;
    int family = index % 4 < 2 ? AF_INET : AF_INET6;
    struct sockaddr_storage address;
    socklen_t length = loopback(family, 0, &address);
    int listener = index % 2 ? socket(family, SOCK_STREAM, 0) : raw_socket(family, SOCK_STREAM);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, length) != 0 || listen(listener, 64) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        call_failed("listener");
        return NULL;
    }
    for (int i = 0; i < sockets_per_thread; i++) {
        int client = i % 4 == 3 ? raw_socket(family, SOCK_STREAM) : socket(family, SOCK_STREAM | (i % 2 ? SOCK_CLOEXEC : 0), 0);
        if (client < 0 && call_failed("socket()"))
            break;
        if (connect(client, (struct sockaddr *)&address, length) != 0 && call_failed("connect()")) {
            close(client);
            break;
        }
        int accepted = i % 2 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : accept(listener, NULL, NULL);
        if (accepted < 0 && call_failed("accept()")) {
            close(client);
            break;
        }
        verify(client, "client");
        verify(accepted, "accepted");
        close_with_reset(client);
        close(accepted);
    }
    close(listener);
    return NULL;
}

static int open_descriptors(void) {
    DIR *directory = opendir("/proc/self/fd");
    int count = 0;
    if (!directory)
        return -1;
    while (readdir(directory))
        count++;
    closedir(directory);
    return count;
}

/* A network namespace of our own, with loopback up. */
static const char *own_namespace(void) {
    static char why[128];
    if (unshare(CLONE_NEWNET) != 0) {
        snprintf(why, sizeof why, "the machine's (unshare: %s)", strerror(errno));
        return why;
    }
    int fd = raw_socket(AF_INET, SOCK_DGRAM);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &request) != 0 || (request.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &request)) != 0) {
        printf("FAIL stress: cannot bring lo up: %s\n", strerror(errno));
        exit(1);
    }
    close(fd);
    return "its own";
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s THREADS SOCKETS_PER_THREAD\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    sockets_per_thread = atoi(argv[2]);
    want = wanted_now();
    const char *namespace = own_namespace();
    pthread_t ids[256];
    if (threads < 1 || threads > 256)
        return 2;

    int before = open_descriptors();
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, connections, (void *)i) != 0) {
            printf("FAIL stress: pthread_create\n");
            return 1;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    double wall = seconds_since(&start);
    int after = open_descriptors();

    long expected_checks = 2L * threads * sockets_per_thread;
    printf("stress: %d threads x %d connections in %s network namespace: %ld TCP sockets checked "
           "(of %ld), %ld with wrong options, %ld failed calls, descriptors %d before and %d after, "
           "%.2f s\n",
           threads, sockets_per_thread, namespace, (long)checked, expected_checks, (long)wrong,
           (long)failed_calls, before, after, wall);
    int ok = checked == expected_checks && wrong == 0 && failed_calls == 0 && before == after;
    return ok ? 0 : 1;
}
