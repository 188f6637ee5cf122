#!/bin/sh
# A container entrypoint: the image's command, and everything it starts, gets TCP keepalive.
#   ENTRYPOINT ["/usr/local/bin/container-entrypoint.sh"]
#   CMD ["redis-server", "--protected-mode", "no"]
# KEEPALIVE_LIBRARY says where the library is, if not in /usr/local/lib; KEEPALIVE_* variables set
# in the image or at `docker run -e` win over the defaults below, under any of their names.
export LD_PRELOAD="${KEEPALIVE_LIBRARY:-/usr/local/lib/libkeepalive.so}${LD_PRELOAD:+ $LD_PRELOAD}"

# True when none of the variables named is set (or each is empty). A default goes only where the
# variable is unset under its alias and the older libraries' names too: set beside one of those,
# it would win over the value given there, and the library would print a conflict in every process.
none_set() {
    [ $# -eq 0 ] && return 0
    eval "[ -z \"\${$1:-}\" ]" && shift && none_set "$@"
}
none_set KEEPALIVE_IDLE KEEPIDLE DD_TCP_KEEPALIVE_TIME TCP_KEEPIDLE && export KEEPALIVE_IDLE=4m
none_set KEEPALIVE_INTVL KEEPALIVE_INTERVAL KEEPINTVL DD_TCP_KEEPALIVE_INTVL TCP_KEEPINTVL &&
    export KEEPALIVE_INTVL=15s
none_set KEEPALIVE_CNT KEEPALIVE_COUNT KEEPCNT DD_TCP_KEEPALIVE_PROBES TCP_KEEPCNT && export KEEPALIVE_CNT=4
exec "$@"
