/* lookups: calls each hooked function once, printing a marker on stderr before each, so that
 * glibc's LD_DEBUG=symbols shows when the library looks the C library's function up with
 * dlsym(), which takes the dynamic loader's lock (tests/lookups.rs). */
#include "check.h"

static void mark(const char *step) {
    fprintf(stderr, "MARK %s\n", step);
}

int main(void) {
    current = "lookups";
    mark("main");
    int udp = SUCCEEDS(socket(AF_INET, SOCK_DGRAM, 0));
    int one = 1;
    SUCCEEDS(setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    mark("setsockopt");
    int listener = SUCCEEDS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    struct sockaddr_storage address;
    socklen_t length = loopback(AF_INET, 0, &address);
    SUCCEEDS(bind(listener, (struct sockaddr *)&address, length));
    SUCCEEDS(listen(listener, 1));
    if (accept4(listener, NULL, NULL, 0) != -1 || errno != EAGAIN)
        FAIL("accept4 on an idle non-blocking listener: %s", strerror(errno));
    mark("accept4");
    if (accept(listener, NULL, NULL) != -1 || errno != EAGAIN)
        FAIL("accept on an idle non-blocking listener: %s", strerror(errno));
    mark("accept");
    close(listener);
    close(udp);
    return finish();
}
