/* cancel: threads cancelled while blocked in accept() and accept4(), inside the library's hooks.
 * Built with -fexceptions (see the Makefile): its cleanup handlers then run only if glibc's
 * cancellation unwinds through the hooks' frames, which takes the library's unwind tables.
 * (musl cancels without unwinding.) Exits 0 when every thread was cancelled and cleaned up, with
 * the library loaded. */
#include "check.h"
#include <pthread.h>

static int listener;
static int cleaned;

static void clean_up(void *unused) {
    (void)unused;
    cleaned++;
}

static void *blocked_in_accept(void *use_accept4) {
    pthread_cleanup_push(clean_up, NULL);
    if (use_accept4)
        accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    else
        accept(listener, NULL, NULL);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void) {
    current = "cancel";
    struct sockaddr_storage address;
    socklen_t length;
    listener = raw_listener(AF_INET, &address, &length);
    /* The library is loaded: a socket() gets the idle time the test sets (EXPECT_IDLE). */
    int fd = SUCCEEDS(socket(AF_INET, SOCK_STREAM, 0));
    check_value(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", (int)expected("EXPECT_IDLE", 0), "after socket()");
    close(fd);
    const char *calls[] = {"accept", "accept4"};
    for (int call = 0; call < 2; call++) {
        pthread_t thread;
        void *result = NULL;
        if (pthread_create(&thread, NULL, blocked_in_accept, call ? &listener : NULL) != 0) {
            FAIL("pthread_create");
            break;
        }
        /* Cancellation is deferred: wherever the thread is now, it acts in the C library's call
         * that our hook makes. */
        pthread_cancel(thread);
        pthread_join(thread, &result);
        if (result != PTHREAD_CANCELED)
            FAIL("the thread in %s() was not cancelled", calls[call]);
        if (cleaned != call + 1)
            FAIL("the cleanup handler of the thread in %s() did not run", calls[call]);
    }
    close(listener);
    return finish();
}
