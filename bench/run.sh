#!/usr/bin/env bash
# What libkeepalive costs a program, side by side with no preload, the simplest C interposer
# (bench/c_interposer.c) and Debian's libkeepalive0 (Fabio Busatto's libkeepalive 0.3, the one
# peer Debian packages). Prints one Markdown table; exits 1 if a check fails.
# Instruction counts come from callgrind and system calls from strace: both are exact and
# repeatable, unlike wall time, which is shown for information only.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

need() {
    command -v "$1" >/dev/null || { echo "bench: $1 not found: apt-get install $2" >&2; exit 1; }
}
need gcc gcc
need valgrind valgrind
need strace strace
need strip binutils
BUSATTO=/usr/lib/libkeepalive.so.0
[[ -f $BUSATTO ]] || { echo "bench: $BUSATTO not found: apt-get install libkeepalive0" >&2; exit 1; }

OURS=target/release/libkeepalive.so
[[ -f $OURS ]] || { echo "bench: $OURS not found: run make bench" >&2; exit 1; }

BUILD=target/bench
mkdir -p "$BUILD"
gcc -O2 -Wall -Wextra -o "$BUILD/workload" bench/workload.c
gcc -O2 -Wall -Wextra -shared -fPIC -o "$BUILD/c_interposer.so" bench/c_interposer.c

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The same environment for every run; nothing else may reach the library.
unset LD_PRELOAD KEEPALIVE KEEPALIVE_DEBUG KEEPALIVE_USER_TIMEOUT KEEPALIVE_INTERVAL KEEPALIVE_COUNT
export KEEPALIVE_IDLE=20 KEEPALIVE_INTVL=5 KEEPALIVE_CNT=3
# libkeepalive0's names for the same settings, given to its runs alone: every other library would
# pay for scanning three more variables of its own at load.
BUSATTO_ENV=(KEEPIDLE=20 KEEPINTVL=5 KEEPCNT=3)

CONFIGS=(none c busatto ours)
declare -A PRELOAD=([none]="" [c]="$PWD/$BUILD/c_interposer.so" [busatto]="$BUSATTO" [ours]="$PWD/$OURS")
N1=1000 N2=11000    # per-operation cost = (cost(N2) - cost(N1)) / (N2 - N1)
WALL_N=100000 WALL_RUNS=5
WORKLOAD=$BUILD/workload

# with CONFIG COMMAND...: runs COMMAND with CONFIG's LD_PRELOAD (none: no LD_PRELOAD at all).
with() {
    local lib=${PRELOAD[$1]} config=$1
    shift
    if [[ $config == busatto ]]; then
        # Exported for this one command, then removed: `exec` must stay a builtin of this shell.
        export "${BUSATTO_ENV[@]}"
        LD_PRELOAD=$lib "$@"
        unset "${BUSATTO_ENV[@]%%=*}"
    elif [[ -n $lib ]]; then
        LD_PRELOAD=$lib "$@"
    else
        "$@"
    fi
}

# instructions CONFIG COMMAND...: user-space instructions the whole process executes.
instructions() {
    local config=$1 out=$TMP/callgrind.out
    shift
    with "$config" valgrind --tool=callgrind -q --callgrind-out-file="$out" "$@"
    awk '/^summary:/ { print $2 }' "$out"
}

# syscalls CONFIG MODE N: writes strace's per-system-call counts to $TMP/strace.CONFIG.MODE.N.
syscalls() {
    local lib=${PRELOAD[$1]}
    # -E, not the environment, so that strace itself does not load the library.
    local extra=()
    [[ $1 == busatto ]] && extra=("${BUSATTO_ENV[@]/#/-E}")
    strace -f -c -o "$TMP/strace.$1.$2.$3" ${lib:+-E LD_PRELOAD=$lib} "${extra[@]}" "$WORKLOAD" "$2" "$3" >/dev/null
}

# calls FILE NAME: how many NAME calls strace counted ("total" for all of them).
calls() {
    awk -v name="$2" '$NF == name { n = $4 } END { print n + 0 }' "$1"
}

# per_op A B: (B - A) / (N2 - N1) to one decimal, dropping ".0". Instruction counts are not
# quite whole: parsing "11000" takes a few more instructions than parsing "1000".
per_op() {
    awk -v a="$1" -v b="$2" -v n=$((N2 - N1)) 'BEGIN { s = sprintf("%.1f", (b - a) / n); sub(/\.0$/, "", s); print s }'
}

# pss CONFIG: kB of proportional set size in the mappings of CONFIG's library, in a sleeping
# /bin/sleep (0 without one). Only the library's own mappings count: the process's total moves by
# more than that whenever another process starts or stops sharing the C library's pages.
pss() {
    local lib=${PRELOAD[$1]}
    [[ -n $lib ]] || { echo 0; return; }
    with "$1" exec sleep 5 &
    local pid=$! kb=""
    for _ in $(seq 50); do
        # Once sleep has started: its mappings are in place by the time it is in nanosleep.
        if grep -q '^State:.*S (sleeping)' "/proc/$pid/status" 2>/dev/null \
            && [[ $(readlink "/proc/$pid/exe") == */sleep ]]; then
            kb=$(awk -v lib="$(realpath "$lib")" '
                /^[0-9a-f]+-[0-9a-f]+ / { mine = ($6 == lib) }
                mine && /^Pss:/ { kb += $2 }
                END { print kb + 0 }' "/proc/$pid/smaps")
            break
        fi
        sleep 0.02
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "${kb:?sleep never went to sleep}"
}

# stripped_size CONFIG: bytes of CONFIG's library with its symbol table stripped (0: none).
stripped_size() {
    local lib=${PRELOAD[$1]}
    [[ -n $lib ]] || { echo 0; return; }
    strip -o "$TMP/stripped.so" "$lib"
    stat -c %s "$TMP/stripped.so"
}

declare -A R   # R[row,config] = value
echo "bench: callgrind, strace and wall time for ${CONFIGS[*]}..." >&2
for config in "${CONFIGS[@]}"; do
    for mode in tcp udp connect setsockopt; do
        a=$(instructions "$config" "$WORKLOAD" "$mode" $N1)
        b=$(instructions "$config" "$WORKLOAD" "$mode" $N2)
        R[ir_$mode,$config]=$(per_op "$a" "$b")
        syscalls "$config" "$mode" $N1
        syscalls "$config" "$mode" $N2
        for name in total setsockopt getsockopt; do
            R[${name}_$mode,$config]=$(per_op \
                "$(calls "$TMP/strace.$config.$mode.$N1" $name)" \
                "$(calls "$TMP/strace.$config.$mode.$N2" $name)")
        done
    done
    R[load,$config]=$(instructions "$config" /bin/true)
    R[pss,$config]=$(pss "$config")
    R[size,$config]=$(stripped_size "$config")
done

# Wall time in ms, the configurations taking turns so that a change in machine load hits all alike.
declare -A WALL
for _ in $(seq $WALL_RUNS); do
    for config in "${CONFIGS[@]}"; do
        start=${EPOCHREALTIME/./}
        with "$config" "$WORKLOAD" tcp $WALL_N
        WALL[$config]+="$(( (${EPOCHREALTIME/./} - start) / 1000 )) "
    done
done
for config in "${CONFIGS[@]}"; do
    R[wall,$config]=$(xargs -n1 <<<"${WALL[$config]}" | sort -n | sed -n "$(( (WALL_RUNS + 1) / 2 ))p")
done
base=${R[load,none]}
for config in "${CONFIGS[@]}"; do
    R[load,$config]=$(( ${R[load,$config]} - base ))
done
R[load,none]="0 (total $base)"
load_ratio=$(awk -v c="${R[load,c]}" -v o="${R[load,ours]}" 'BEGIN { printf "%.2f", o / c }')

# row LABEL KEY [LAST]: a table row; LAST defaults to ours minus the C interposer.
row() {
    local a=${R[$2,none]} b=${R[$2,c]} d=${R[$2,busatto]} c=${R[$2,ours]}
    local last=${3:-$(awk -v b="$b" -v c="$c" 'BEGIN { s = sprintf("%+.1f", c - b); sub(/\.0$/, "", s); print (s == "+0" || s == "-0" ? "0" : s) }')}
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$a" "$b" "$d" "$c" "$last"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
glibc=$(ldd --version | awk 'NR == 1 { print $NF }')
echo "$(date +%F), Linux $(uname -r), $cpu, glibc $glibc; KEEPALIVE_IDLE=20 KEEPALIVE_INTVL=5 KEEPALIVE_CNT=3"
echo
echo "| Per operation | no preload | C interposer | libkeepalive0 0.3 (Debian) | libkeepalive | libkeepalive − C |"
echo "|---|---:|---:|---:|---:|---:|"
row "a. instructions per TCP socket (socket + close)" ir_tcp
row "b. instructions per UDP socket (socket + close)" ir_udp
row "c. instructions per loopback connect/accept round" ir_connect
row "c. instructions per setsockopt() passed through (no KEEPALIVE_FORCE)" ir_setsockopt
row "d. system calls per TCP socket" total_tcp
row "d. setsockopt per TCP socket" setsockopt_tcp
row "d. getsockopt per TCP socket" getsockopt_tcp
row "d. system calls per UDP socket" total_udp
row "d. system calls per connect/accept round" total_connect
row "d. setsockopt per round" setsockopt_connect
row "d. getsockopt per round" getsockopt_connect
row "e. instructions to load the library (\`/bin/true\`)" load "×$load_ratio of C"
row "f. wall ms for $WALL_N TCP sockets (median of $WALL_RUNS)" wall
row "g. bytes of the stripped library" size
row "h. kB of Pss in the library's mappings (a sleeping process)" pss
echo
echo "The C interposer and libkeepalive0 hook socket() only; libkeepalive also checks sockets at"
echo "connect() and accept(), for those it did not create (inherited, or passed by systemd or inetd)."
echo
cat <<EOF
Commands (LIB: none, $BUILD/c_interposer.so, $BUSATTO, $OURS; MODE: tcp, udp, connect, setsockopt; N: $N1 and $N2):

    LD_PRELOAD=LIB valgrind --tool=callgrind -q --callgrind-out-file=OUT $WORKLOAD MODE N
    strace -f -c -o OUT -E LD_PRELOAD=LIB $WORKLOAD MODE N
    LD_PRELOAD=LIB valgrind --tool=callgrind -q --callgrind-out-file=OUT /bin/true
    LD_PRELOAD=LIB $WORKLOAD tcp $WALL_N    # timed $WALL_RUNS times with \$EPOCHREALTIME
    strip -o OUT LIB; stat -c %s OUT
    LD_PRELOAD=LIB sleep 5 &    # Pss: the Pss lines of LIB's mappings in /proc/\$!/smaps once it sleeps

Per-operation rows are (count at N=$N2 - count at N=$N1) / $((N2 - N1)); instructions are callgrind's
"summary:" total; the load row is /bin/true's total minus its total without LD_PRELOAD.
EOF

failed=0
check() {
    if awk "BEGIN { exit !($2) }"; then echo "ok:   $1"; else echo "FAIL: $1"; failed=1; fi
}
echo
for config in c ours; do
    check "$config: 4 setsockopt per TCP socket (3 timers + SO_KEEPALIVE)" "${R[setsockopt_tcp,$config]} == 4"
    check "$config: no system call added per UDP socket" "${R[total_udp,$config]} == ${R[total_udp,none]}"
done
check "ours: no more system calls per TCP socket than C" "${R[total_tcp,ours]} <= ${R[total_tcp,c]}"
check "ours: 2 getsockopt per round (1 at connect, 1 at accept)" "${R[getsockopt_connect,ours]} == 2"
check "ours: a setsockopt() without force costs at most 10 instructions more than none" "${R[ir_setsockopt,ours]} <= ${R[ir_setsockopt,none]} + 10"
check "ours: user-space instructions per TCP socket no more than C's" "${R[ir_tcp,ours]} <= ${R[ir_tcp,c]}"
check "ours: load cost within 1.3x of the C interposer's (×$load_ratio)" "$load_ratio <= 1.3"
check "ours: a connect/accept round at most 140 instructions over no preload" "${R[ir_connect,ours]} <= ${R[ir_connect,none]} + 140"
check "ours: stripped library at most 40 KiB" "${R[size,ours]} <= 40 * 1024"
check "ours: at most 40 kB of Pss in its mappings" "${R[pss,ours]} <= 40"
exit $failed
