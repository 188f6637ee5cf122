/* Linked into `early`: its constructor calls every hooked function. Linked libraries are set up
 * before preloaded ones' constructors run (or in unspecified order), so these calls can reach
 * libkeepalive before its own constructor has read the configuration. */
#include "check.h"

int early_fds[4] = {-1, -1, -1, -1};
int early_errno_changed;

__attribute__((constructor)) static void make_sockets_early(void) {
    struct sockaddr_storage address;
    socklen_t length;
    int listener = raw_listener(AF_INET, &address, &length);
    errno = SENTINEL;
    int client = socket(AF_INET, SOCK_STREAM, 0);
    connect(client, (struct sockaddr *)&address, length);
    int raw_client = raw_socket(AF_INET, SOCK_STREAM);
    connect(raw_client, (struct sockaddr *)&address, length);
    int accepted = accept(listener, NULL, NULL);
    int accepted4 = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    early_errno_changed = errno != SENTINEL;
    early_fds[0] = client;
    early_fds[1] = raw_client;
    early_fds[2] = accepted;
    early_fds[3] = accepted4;
    close(listener);
}
