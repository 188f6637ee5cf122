#!/usr/bin/env bash
# What the seccomp supervisor (`keepalive --via seccomp`) adds to a trapped call (connect, accept)
# and to a call the filter lets through (getpid), side by side with the same program bare.
# Prints one Markdown table; exits 1 if a check fails. Wall time: the median of RUNS runs, bare
# and supervised taking turns so that a change in machine load hits both alike.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

COMMAND=target/release/keepalive
[[ -x $COMMAND ]] || { echo "bench: $COMMAND not found: run make bench" >&2; exit 1; }
BUILD=target/bench
mkdir -p "$BUILD"
gcc -O2 -Wall -Wextra -o "$BUILD/supervised" bench/supervised.c
unset LD_PRELOAD KEEPALIVE KEEPALIVE_DEBUG KEEPALIVE_FORCE KEEPALIVE_ONLY KEEPALIVE_SKIP KEEPALIVE_SIDE
SETTINGS=(--idle 20 --interval 5 --count 3)
ROUNDS=2000 RUNS=7

declare -A SAMPLES
for _ in $(seq $RUNS); do
    read -r _ c _ a _ g < <("$BUILD/supervised" $ROUNDS)
    SAMPLES[bare_connect]+="$c " SAMPLES[bare_accept]+="$a " SAMPLES[bare_getpid]+="$g "
    read -r _ c _ a _ g < <("$COMMAND" --via seccomp "${SETTINGS[@]}" -- "$BUILD/supervised" $ROUNDS)
    SAMPLES[sup_connect]+="$c " SAMPLES[sup_accept]+="$a " SAMPLES[sup_getpid]+="$g "
done
median() { xargs -n1 <<<"$1" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
declare -A M
for key in "${!SAMPLES[@]}"; do M[$key]=$(median "${SAMPLES[$key]}"); done

sync_wake_up=$(awk -v r="$(uname -r)" 'BEGIN { split(r, v, "."); print (v[1] > 6 || (v[1] == 6 && v[2] >= 6)) ? "yes" : "no" }')
echo "$(date +%F), Linux $(uname -r) (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: $sync_wake_up); keepalive --via seccomp ${SETTINGS[*]}"
echo
echo "| Per call, ns (median of $RUNS runs) | bare | supervised | added |"
echo "|---|---:|---:|---:|"
for call in connect accept getpid; do
    printf '| %s | %s | %s | %+d |\n' "$call()" "${M[bare_$call]}" "${M[sup_$call]}" $(( M[sup_$call] - M[bare_$call] ))
done
echo
echo "connect() is trapped and configured (5 setsockopt on a duplicate); accept() is trapped and its"
echo "listener found configured; getpid() runs the filter and goes on in the kernel."
echo
echo "Command: $BUILD/supervised $ROUNDS, bare and as keepalive --via seccomp ${SETTINGS[*]} -- $BUILD/supervised $ROUNDS"

failed=0
check() {
    if awk "BEGIN { exit !($2) }"; then echo "ok:   $1"; else echo "FAIL: $1"; failed=1; fi
}
echo
check "supervisor: at most 20 µs added per connect()" "${M[sup_connect]} - ${M[bare_connect]} <= 20000"
check "supervisor: at most 20 µs added per accept()" "${M[sup_accept]} - ${M[bare_accept]} <= 20000"
check "supervisor: at most 100 ns added per call the filter lets through" "${M[sup_getpid]} - ${M[bare_getpid]} <= 100"
exit $failed
