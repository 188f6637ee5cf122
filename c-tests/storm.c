/* Processes and signals while sockets are being made: `storm fork_storm|vfork_exec|signal_connect`.
 * Background threads keep making and checking loopback connections the whole time. Children check
 * their own sockets with getsockopt and report through their exit status. Prints one line of
 * figures; exits non-zero on any wrong option, failed call or failed child. */
#include "check.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>

extern char **environ;

static struct wanted want;
static atomic_int stop;
static atomic_long checked, wrong;

static void verify(int fd) {
    if (mismatches(fd, &want))
        atomic_fetch_add(&wrong, 1);
    atomic_fetch_add(&checked, 1);
}

/* A loopback listener made by system call: whatever it accepts is configured by accept(). */
struct listener {
    int fd;
    struct sockaddr_storage address;
    socklen_t length;
};

static struct listener listen_on_loopback(void) {
    struct listener listener;
    listener.fd = raw_listener(AF_INET, &listener.address, &listener.length);
    syscall(SYS_listen, listener.fd, 1024);
    return listener;
}

/* One connection through socket(), connect() and accept(), both ends checked; 0 on success. */
static int one_connection(const struct listener *listener) {
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || connect(client, (const struct sockaddr *)&listener->address, listener->length) != 0) {
        FAIL("client: %s", strerror(errno));
        if (client >= 0)
            close(client);
        return -1;
    }
    int accepted = accept4(listener->fd, NULL, NULL, SOCK_CLOEXEC);
    if (accepted < 0) {
        FAIL("accept4: %s", strerror(errno));
        close(client);
        return -1;
    }
    verify(client);
    verify(accepted);
    close_with_reset(client);
    close(accepted);
    return 0;
}

static void *background(void *unused) {
    (void)unused;
    struct listener listener = listen_on_loopback();
    while (!atomic_load(&stop) && one_connection(&listener) == 0)
        ;
    close(listener.fd);
    return NULL;
}

#define BACKGROUND_THREADS 3
static pthread_t background_threads[BACKGROUND_THREADS];

static void start_background(void) {
    for (int i = 0; i < BACKGROUND_THREADS; i++)
        pthread_create(&background_threads[i], NULL, background, NULL);
}

static void stop_background(void) {
    atomic_store(&stop, 1);
    for (int i = 0; i < BACKGROUND_THREADS; i++)
        pthread_join(background_threads[i], NULL);
}

/* In a child of a threaded process: socket(), connect() to the parent's listener, check. Exit
 * status: 0 configured, 1 wrong options, 2 a call failed. */
static void child_connects(const struct listener *listener) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        _exit(2);
    int before = mismatches(fd, &want);
    if (connect(fd, (const struct sockaddr *)&listener->address, listener->length) != 0)
        _exit(2);
    int status = before || mismatches(fd, &want) ? 1 : 0;
    close_with_reset(fd);
    _exit(status);
}

/* Accepts and checks what the children connect, until told to stop. */
static void *acceptor(void *argument) {
    const struct listener *listener = argument;
    while (!atomic_load(&stop)) {
        struct pollfd ready = {.fd = listener->fd, .events = POLLIN};
        if (poll(&ready, 1, 50) <= 0)
            continue;
        int accepted = accept(listener->fd, NULL, NULL);
        if (accepted >= 0) {
            verify(accepted);
            close(accepted);
        }
    }
    return NULL;
}

static int children_failed;

static void collect(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (children_failed++ < 5)
            FAIL("child %d: status %#x", (int)child, status);
    }
}

#define FORKS 400
#define FORKS_AT_ONCE 20

static int fork_storm(void) {
    struct listener listener = listen_on_loopback();
    start_background();
    pthread_t acceptor_thread;
    pthread_create(&acceptor_thread, NULL, acceptor, &listener);
    for (int made = 0; made < FORKS; made += FORKS_AT_ONCE) {
        pid_t children[FORKS_AT_ONCE];
        for (int i = 0; i < FORKS_AT_ONCE; i++) {
            children[i] = fork();
            if (children[i] == 0)
                child_connects(&listener);
            if (children[i] < 0)
                FAIL("fork: %s", strerror(errno));
        }
        for (int i = 0; i < FORKS_AT_ONCE; i++)
            if (children[i] > 0)
                collect(children[i]);
    }
    stop_background();
    pthread_join(acceptor_thread, NULL);
    close(listener.fd);
    printf("fork_storm: %d forks from a process with %d threads making connections, %d children "
           "failed; %ld TCP sockets checked in the parent, %ld wrong\n",
           FORKS, BACKGROUND_THREADS, children_failed, (long)checked, (long)wrong);
    return wrong || children_failed ? 1 : finish();
}

#define VFORK_THREADS 4
#define VFORKS_PER_THREAD 25
static const char *self_path;
static atomic_int vforks_failed;

/* Each thread: vfork(); the child makes a socket (between vfork and exec, where only the
 * simplest code is safe) and executes this program again, which checks that inherited socket
 * and a new connection of its own. */
static void *vforking(void *unused) {
    (void)unused;
    for (int i = 0; i < VFORKS_PER_THREAD; i++) {
        char descriptor[16];
        pid_t child = vfork();
        if (child == 0) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            snprintf(descriptor, sizeof descriptor, "%d", fd);
            char *arguments[] = {(char *)self_path, "exec_child", descriptor, NULL};
            execve(self_path, arguments, environ);
            _exit(3);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            atomic_fetch_add(&vforks_failed, 1);
    }
    return NULL;
}

static int vfork_exec(void) {
    start_background();
    pthread_t threads[VFORK_THREADS];
    for (int i = 0; i < VFORK_THREADS; i++)
        pthread_create(&threads[i], NULL, vforking, NULL);
    for (int i = 0; i < VFORK_THREADS; i++)
        pthread_join(threads[i], NULL);
    stop_background();
    printf("vfork_exec: %d vfork+exec from %d threads while %d threads made connections, %d "
           "children failed; %ld TCP sockets checked in the parent, %ld wrong\n",
           VFORK_THREADS * VFORKS_PER_THREAD, VFORK_THREADS, BACKGROUND_THREADS, (int)vforks_failed,
           (long)checked, (long)wrong);
    if (vforks_failed)
        FAIL("%d vfork children failed", (int)vforks_failed);
    return wrong ? 1 : finish();
}

/* The executed child: the socket made after vfork, and a connection of its own. */
static int exec_child(int inherited) {
    current = "exec_child";
    check_configured(inherited, "made between vfork() and exec");
    struct listener listener = listen_on_loopback();
    one_connection(&listener);
    return wrong ? 1 : failures ? 1 : 0;
}

/* The handler makes a connection to `handler_listener` with socket() and connect() and reads
 * its options back; the main loop accepts and checks. */
static struct listener handler_listener;
static atomic_int handled, handler_wrong, handler_failed;

static void connect_in_handler(int signal_number) {
    (void)signal_number;
    int saved = errno;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&handler_listener.address, handler_listener.length) != 0)
        atomic_fetch_add(&handler_failed, 1);
    else if (mismatches(fd, &want))
        atomic_fetch_add(&handler_wrong, 1);
    if (fd >= 0)
        close_with_reset(fd);
    atomic_fetch_add(&handled, 1);
    errno = saved;
}

#define SIGNALS 300

static int signal_connect(void) {
    handler_listener = listen_on_loopback();
    fcntl(handler_listener.fd, F_SETFL, O_NONBLOCK);
    struct listener own = listen_on_loopback();
    struct sigaction action = {.sa_handler = connect_in_handler, .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = {.it_interval = {0, 1000}, .it_value = {0, 1000}};
    setitimer(ITIMER_REAL, &every, NULL);
    long rounds = 0;
    /* The main program is inside the hooks most of the time, so signals land there. */
    for (long limit = 0; atomic_load(&handled) < SIGNALS && limit < 2000000; limit++) {
        if (one_connection(&own) != 0)
            break;
        rounds++;
        int accepted;
        while ((accepted = accept(handler_listener.fd, NULL, NULL)) >= 0) {
            verify(accepted);
            close(accepted);
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signal_connect: %d connections made in a signal handler (%d failed, %d with wrong "
           "options) during %ld connections of the main program; %ld TCP sockets checked there, %ld wrong\n",
           (int)handled, (int)handler_failed, (int)handler_wrong, rounds, (long)checked, (long)wrong);
    if (handled < SIGNALS)
        FAIL("only %d signals handled", (int)handled);
    if (handler_failed || handler_wrong)
        FAIL("the handler's connections: %d failed, %d wrong", (int)handler_failed, (int)handler_wrong);
    close(own.fd);
    close(handler_listener.fd);
    return wrong ? 1 : finish();
}

int main(int argc, char **argv) {
    want = wanted_now();
    self_path = "/proc/self/exe";
    (void)argv[0];
    if (argc == 3 && strcmp(argv[1], "exec_child") == 0)
        return exec_child(atoi(argv[2]));
    static const struct {
        const char *name;
        int (*run)(void);
    } storms[] = {{"fork_storm", fork_storm}, {"vfork_exec", vfork_exec}, {"signal_connect", signal_connect}};
    for (size_t i = 0; argc == 2 && i < sizeof storms / sizeof storms[0]; i++)
        if (strcmp(argv[1], storms[i].name) == 0) {
            current = storms[i].name;
            return storms[i].run();
        }
    fprintf(stderr, "usage: %s fork_storm|vfork_exec|signal_connect\n", argv[0]);
    return 2;
}
