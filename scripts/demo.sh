#!/usr/bin/env bash
# libkeepalive demo: an unmodified program gets TCP keepalive from LD_PRELOAD alone, and the
# kernel confirms it. Run by `make demo` (after `make` and `make c-tests`). Needs python3 and ss.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
LIB=target/release/libkeepalive.so
PEEK=target/c-tests/glibc/peek
IDLE=3 INTVL=1 CNT=3
WAIT=4.5   # seconds after connecting to look again: one probe at 3 s, answered
unset LD_PRELOAD "${!KEEPALIVE_@}"   # the only library in play is the one we preload below

if [[ -t 1 ]]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*"; }
show() { printf '    %s\n' "$@"; }   # indented command or kernel output
die() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }

# Print a command the way you would type it: words with special characters in single quotes.
quoted() {
    local word out=()
    for word; do
        if [[ $word =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then out+=("$word")
        else out+=("'${word//\'/\'\\\'\'}'"); fi
    done
    printf '%s' "${out[*]}"
}

[[ -f $LIB ]] || die "$LIB is missing; build it with 'make'"
[[ -x $PEEK ]] || die "$PEEK is missing; build it with 'make c-tests'"
command -v ss >/dev/null || die "the 'ss' tool (iproute2) is required"
# python3 may be a shell shim (pyenv): use the real interpreter, so the pid we inspect is python.
PY=$(python3 -c 'import sys; print(sys.executable)') || die "python3 is required"

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# find_conn PID: wait until PID has an established TCP connection to our server, then set
# FD (its descriptor in PID) and LPORT (its local port).
find_conn() {
    local pid=$1 link ino rport try
    rport=$(printf '%04X' "$PORT")
    for ((try = 0; try < 100; try++)); do
        for link in /proc/"$pid"/fd/*; do
            [[ $(readlink "$link" 2>/dev/null) =~ ^socket:\[([0-9]+)\]$ ]] || continue
            ino=${BASH_REMATCH[1]}
            # /proc/net/tcp: $2 local addr:port, $3 remote, $4 state (01 = ESTABLISHED), $10 inode
            LPORT=$(awk -v ino="$ino" -v rp=":$rport" \
                '$10 == ino && $4 == "01" && substr($3, length($3) - 4) == rp { print $2 }' \
                /proc/net/tcp)
            if [[ -n $LPORT ]]; then FD=${link##*/} LPORT=$((16#${LPORT##*:})); return 0; fi
        done
        kill -0 "$pid" 2>/dev/null || die "client $pid exited before connecting"
        sleep 0.05
    done
    die "client $pid did not connect to 127.0.0.1:$PORT within 5 s"
}

# ss_line: this connection as ss sees it (state, queues, addresses, timer); ss_counts: the
# segments the client's kernel sent and received on it, and ms since data was last sent or an
# ACK was last received (from ss -i).
ss_filter() { printf '( sport = :%s and dport = :%s )' "$LPORT" "$PORT"; }
ss_line() { ss -tnoH "$(ss_filter)" | tr -s ' '; }
ss_counts() {
    ss -tniH "$(ss_filter)" | grep -oE '(segs_out|segs_in|lastsnd|lastack):[0-9]+' | paste -sd' '
}
# count NAME TEXT: the number after "NAME:" or "NAME=" in TEXT, 0 if absent.
count() { if [[ $2 =~ $1[:=]([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi; }
# ss from iproute2 6.1 prints timers of 1 s or more as "2.944ms", meaning 2.944 seconds.
ss_note() {
    [[ $1 =~ timer:\([a-z]+,([0-9]+\.[0-9]+)ms, ]] &&
        say "(This ss version labels seconds \"ms\": ${BASH_REMATCH[1]}ms means ${BASH_REMATCH[1]} s.)"
    return 0
}

CLIENT_CODE="import socket, time; s = socket.create_connection((\"127.0.0.1\", PORT)); time.sleep(8)"

say "${B}libkeepalive demo${N}: an unmodified program gets TCP keepalive just by preloading the"
say "library, and we ask the kernel to prove it. Everything stays on 127.0.0.1; commands are"
say "shown as run from $PWD."

step "1. A local TCP server"
exec 3< <(exec "$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
conns = []
while True:
    conns.append(s.accept()[0])
')
PIDS+=("$!")
read -r -t 5 PORT <&3 || die "the python server did not start"
exec 3<&-
say "A python server listens on 127.0.0.1:$PORT (pid ${PIDS[0]}). It accepts connections and"
say "never sends any data, so the connections to it stay idle."

step "2. An unmodified client, with the library preloaded"
code=${CLIENT_CODE/PORT/$PORT}
say "The client is plain python: it connects, then sleeps, and never asks for keepalive itself."
say "The variables tell the library: probe after ${IDLE} s idle, then every ${INTVL} s, give up after ${CNT}."
show "\$ LD_PRELOAD=$LIB KEEPALIVE_IDLE=$IDLE KEEPALIVE_INTVL=$INTVL KEEPALIVE_CNT=$CNT $(quoted "$PY" -c "$code")"
LD_PRELOAD=$LIB KEEPALIVE_IDLE=$IDLE KEEPALIVE_INTVL=$INTVL KEEPALIVE_CNT=$CNT "$PY" -c "$code" &
CLIENT=$!
PIDS+=("$CLIENT")
find_conn "$CLIENT"
say "Client pid $CLIENT is connected from 127.0.0.1:$LPORT; its socket is fd $FD."

step "3. The kernel's view of that connection"
say "ss shows the connection with a keepalive timer: the kernel will probe it after ${IDLE} s of"
say "silence. The timer's last field counts probes sent but not answered."
show "\$ ss -tno '$(ss_filter)'"
line=$(ss_line)
show "$line"
ss_note "$line"
[[ $line =~ timer:\(keepalive, ]] || die "ss shows no keepalive timer on the client's connection"
say "peek copies the client's socket descriptor (pidfd_getfd) and reads its options back:"
show "\$ $PEEK $CLIENT $FD"
opts=$("$PEEK" "$CLIENT" "$FD") || die "peek could not read the client's socket (it needs root or ptrace permission)"
show "$opts"
want="SO_KEEPALIVE=1 TCP_KEEPIDLE=$IDLE TCP_KEEPINTVL=$INTVL TCP_KEEPCNT=$CNT "
[[ $opts == "$want"* ]] || die "expected the socket options to start with '$want'"
say "Segments sent and received so far, and ms since the last data sent and the last ACK (ss -i):"
before=$(ss_counts)
show "$before"

step "4. ${WAIT} seconds later, past the ${IDLE} s idle time"
sleep "$WAIT"
show "\$ ss -tno '$(ss_filter)'"
line=$(ss_line)
show "$line"
after=$(ss_counts)
show "$after"
[[ $line =~ ^ESTAB\ .*timer:\(keepalive,[^,]*,0\) ]] ||
    die "expected the connection to be ESTAB with a keepalive timer and 0 unanswered probes"
(($(count segs_out "$after") > $(count segs_out "$before") &&
  $(count segs_in "$after") > $(count segs_in "$before"))) ||
    die "no keepalive probe went out and was answered (segs_out/segs_in did not grow)"
say "The program sent nothing for ${WAIT} s, yet its kernel sent one more segment (the keepalive"
say "probe) and got one back (the server's ACK, see lastack). The probe was answered: nothing is"
say "pending (last field 0), the timer is armed for the next probe and the connection is ESTAB."
kill "$CLIENT"

step "5. For contrast: the same client without the library"
say "Same command, without LD_PRELOAD and the KEEPALIVE_* variables:"
show "\$ $(quoted "$PY" -c "$code")"
"$PY" -c "$code" &
CLIENT=$!
PIDS+=("$CLIENT")
find_conn "$CLIENT"
show "\$ ss -tno '$(ss_filter)'"
line=$(ss_line)
show "$line"
[[ $line != *timer:\(keepalive* ]] || die "ss shows a keepalive timer even without the library"
show "\$ $PEEK $CLIENT $FD"
opts=$("$PEEK" "$CLIENT" "$FD") || die "peek could not read the client's socket"
show "$opts"
sysidle=$(</proc/sys/net/ipv4/tcp_keepalive_time)
[[ $opts == "SO_KEEPALIVE=0 TCP_KEEPIDLE=$sysidle "* ]] ||
    die "expected SO_KEEPALIVE=0 and the system default TCP_KEEPIDLE=$sysidle without the library"
say "No timer and SO_KEEPALIVE=0: this connection is never probed. TCP_KEEPIDLE=$sysidle is just the"
say "system default (net.ipv4.tcp_keepalive_time), which would apply only if keepalive were on."
kill "$CLIENT"

printf '\n%sSummary:%s the unmodified client got TCP keepalive from LD_PRELOAD alone (probed after\n%s s idle, answered); without the library it got none.\n' "$B" "$N" "$IDLE"
