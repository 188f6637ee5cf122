/* Checks the sockets libearly.so's constructor made through socket(), connect(), accept() and
 * accept4() before the program started. */
#include "check.h"

extern int early_fds[4];
extern int early_errno_changed;

int main(void) {
    current = "early";
    static const char *what[4] = {"socket()", "connect() of a raw socket", "accept()", "accept4()"};
    for (int i = 0; i < 4; i++) {
        if (early_fds[i] < 0)
            FAIL("the constructor's %s failed", what[i]);
        else
            check_configured(early_fds[i], what[i]);
    }
    if (early_errno_changed)
        FAIL("errno changed by successful calls in the constructor");
    return finish();
}
