/* secure LIBRARY: in secure-execution mode (set-user-ID, AT_SECURE) the library ignores every
 * KEEPALIVE_* variable, with the older names, as the loader ignores LD_*: keepalive stays on with
 * the system's timers. The loader preloads nothing from a path then, so this program loads the
 * library itself with dlopen() (its constructor reads the settings) and makes a socket through
 * the library's socket(). Prints AT_SECURE; the checks compare with EXPECT_* as elsewhere. */
#include "check.h"
#include <dlfcn.h>
#include <sys/auxv.h>

int main(int argc, char **argv) {
    current = "secure";
    if (argc != 2) {
        printf("usage: secure LIBRARY\n");
        return 2;
    }
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    void *library = dlopen(argv[1], RTLD_NOW);
    if (!library) {
        FAIL("dlopen: %s", dlerror());
        return 1;
    }
    int (*library_socket)(int, int, int) = (int (*)(int, int, int))dlsym(library, "socket");
    if (!library_socket) {
        FAIL("dlsym socket: %s", dlerror());
        return 1;
    }
    int fd = library_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        FAIL("socket: %s", strerror(errno));
        return 1;
    }
    check_configured(fd, "made through the library's socket()");
    close(fd);
    return finish();
}
