#!/bin/sh
# make test-aarch64: cross-build the library for aarch64 and run the C scenarios under qemu's
# user-mode emulation, so that the aarch64 system calls in src/sys.rs are exercised.
# Needs: rustup's aarch64-unknown-linux-gnu target, and Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user.
set -eu
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
build=target/c-tests/aarch64
library=$PWD/target/$target/release/libkeepalive.so

CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    ${CARGO:-cargo} build --release --target "$target" -p libkeepalive
mkdir -p "$build"
aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$build/scenarios" c-tests/scenarios.c

# failing_calls is left out: qemu-user itself hangs in it, with or without the library, and
# mptcp depends on the emulator passing IPPROTO_MPTCP through.
scenarios="ipv4 ipv6 ipproto_tcp untouched raw_socket_connect accept_raw_listener
           listener_passes_options program_choice errno_kept refusals stale_numbers"
failed=0
run() {
    if ! timeout 60 env QEMU_LD_PREFIX=/usr/aarch64-linux-gnu QEMU_SET_ENV="LD_PRELOAD=$library" "$@" \
        qemu-aarch64 "$build/scenarios" "$scenario"; then
        echo "FAILED: $scenario with $*" >&2
        failed=1
    fi
}
for scenario in $scenarios; do
    run KEEPALIVE_IDLE=20 KEEPALIVE_INTVL=5 KEEPALIVE_CNT=3 KEEPALIVE_USER_TIMEOUT=1500ms \
        EXPECT_IDLE=20 EXPECT_INTVL=5 EXPECT_CNT=3 EXPECT_USER_TIMEOUT=1500
    run KEEPALIVE=off EXPECT_KEEPALIVE=0
done
# Without force, the force scenario's program turns keepalive off and sets its own idle time,
# which the library keeps only where it knows a fresh socket's defaults. qemu-user runs the
# probe's clone(CLONE_VM | CLONE_VFORK) as a fork, so the probe cannot report them and the library
# sets every option (its documented fallback; the x86_64 tests cover that path natively). Force
# mode does not depend on the defaults.
scenario=force run KEEPALIVE_FORCE=1 KEEPALIVE_IDLE=20 EXPECT_IDLE=20 EXPECT_FORCED=1
# Force mode, and peer rules reading the address through the kernel. stale_numbers is not run in
# force mode: qemu-user answers SO_COOKIE with EINVAL, so the library falls back to descriptor
# numbers alone, as on kernels before 4.12.
scenario=refusals run KEEPALIVE_FORCE=1 KEEPALIVE_IDLE=20
scenario=refusals run KEEPALIVE_ONLY=127.0.0.1
[ "$failed" = 0 ] && echo "aarch64: every scenario passed under qemu-aarch64"
exit "$failed"
