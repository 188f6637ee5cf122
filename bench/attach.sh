#!/usr/bin/env bash
# What `keepalive --attach` costs: one process holding 10001 TCP sockets (a listener and 5000
# connections to it, both ends), a first pass that configures them all and a pass with nothing
# left to change. System calls per socket come from strace and are exact; wall time is the
# median of RUNS, for information, and checked against a loose bound only.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

COMMAND=target/release/keepalive
HOLDER=target/c-tests/static/holder
for file in $COMMAND $HOLDER; do
    [[ -x $file ]] || { echo "bench: $file not found: run make bench" >&2; exit 1; }
done
command -v strace >/dev/null || { echo "bench: strace not found: apt-get install strace" >&2; exit 1; }

CONNECTIONS=5000 SOCKETS=10001 RUNS=5
TMP=$(mktemp -d)
HOLDERS=()
cleanup() {
    for pid in "${HOLDERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# holding: starts a holder of $SOCKETS sockets and sets PID once it holds them all.
holding() {
    "$HOLDER" many $CONNECTIONS >"$TMP/ready" &
    PID=$!
    HOLDERS+=("$PID")
    for _ in $(seq 500); do
        grep -q ready "$TMP/ready" 2>/dev/null && return
        sleep 0.01
    done
    echo "bench: holder did not get ready" >&2
    exit 1
}

# pass: wall ms of one `--attach` pass over $PID.
pass() {
    local start=${EPOCHREALTIME/./}
    $COMMAND --idle 20 --attach "$PID" >"$TMP/out"
    echo $(( (${EPOCHREALTIME/./} - start) / 1000 ))
}

median() { xargs -n1 | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

echo "bench: keepalive --attach over $SOCKETS sockets..." >&2
first="" again=""
for _ in $(seq $RUNS); do
    holding
    first+="$(pass) "
    again+="$(pass) "
    kill "$PID"
done
holding
strace -f -c -o "$TMP/strace.first" $COMMAND --idle 20 --attach "$PID" >/dev/null
strace -f -c -o "$TMP/strace.again" $COMMAND --idle 20 --attach "$PID" >/dev/null
per_socket() { awk -v n=$SOCKETS '$NF == "total" { printf "%.1f", $4 / n }' "$1"; }

echo
echo "| keepalive --attach, $SOCKETS TCP sockets in one process | value |"
echo "|---|---:|"
echo "| wall ms, first pass (median of $RUNS) | $(median <<<"$first") |"
echo "| wall ms, a pass with nothing to change (median of $RUNS) | $(median <<<"$again") |"
echo "| system calls per socket, first pass | $(per_socket "$TMP/strace.first") |"
echo "| system calls per socket, nothing to change | $(per_socket "$TMP/strace.again") |"
echo
echo "Commands: $HOLDER many $CONNECTIONS; $COMMAND --idle 20 --attach PID (twice), timed with \$EPOCHREALTIME;"
echo "the same under strace -f -c on a fresh holder."
echo

failed=0
check() {
    if awk "BEGIN { exit !($2) }"; then echo "ok:   $1"; else echo "FAIL: $1"; failed=1; fi
}
# readlink, pidfd_getfd, SO_DOMAIN/TYPE/PROTOCOL, TCP_INFO, getsockname, getpeername,
# SO_KEEPALIVE and four timers, two setsockopt and their read-back, close.
check "at most 18 system calls per socket on a first pass with --idle" "$(per_socket "$TMP/strace.first") <= 18.1"
check "at most 14 per socket when nothing changes" "$(per_socket "$TMP/strace.again") <= 14.1"
check "a first pass over $SOCKETS sockets within 2 s" "$(median <<<"$first") <= 2000"
exit $failed
