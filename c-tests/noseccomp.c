/* noseccomp: runs a program where seccomp() and prctl(PR_SET_SECCOMP) fail with ENOSYS, as on a
 * kernel built without CONFIG_SECCOMP_FILTER or in a sandbox that forbids them.
 *
 *   noseccomp PROGRAM [ARGS...] */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* From linux/filter.h and linux/seccomp.h, which musl's headers do not include. */
struct sock_filter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct sock_fprog {
    unsigned short len;
    struct sock_filter *filter;
};
#define LOAD_WORD 0x20 /* BPF_LD | BPF_W | BPF_ABS */
#define JUMP_IF_EQUAL 0x15 /* BPF_JMP | BPF_JEQ | BPF_K */
#define RETURN 0x06 /* BPF_RET | BPF_K */
#define NR_OFFSET 0
#define FIRST_ARGUMENT_OFFSET 16 /* the low half on a little-endian machine */
#define SECCOMP_MODE_FILTER 2
#define SECCOMP_RET_ERRNO 0x00050000u
#define SECCOMP_RET_ALLOW 0x7fff0000u

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: noseccomp PROGRAM [ARGS...]\n");
        return 2;
    }
    struct sock_filter filter[] = {
        {LOAD_WORD, 0, 0, NR_OFFSET},
        {JUMP_IF_EQUAL, 3, 0, SYS_seccomp},
        {JUMP_IF_EQUAL, 0, 3, SYS_prctl},
        {LOAD_WORD, 0, 0, FIRST_ARGUMENT_OFFSET},
        {JUMP_IF_EQUAL, 0, 1, PR_SET_SECCOMP},
        {RETURN, 0, 0, SECCOMP_RET_ERRNO | ENOSYS},
        {RETURN, 0, 0, SECCOMP_RET_ALLOW},
    };
    struct sock_fprog program = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("noseccomp: cannot install the filter");
        return 1;
    }
    execvp(argv[1], argv + 1);
    perror("noseccomp: exec");
    return 127;
}
