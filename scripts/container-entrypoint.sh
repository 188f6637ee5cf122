#!/bin/sh
# A container entrypoint: the image's command, and everything it starts, gets TCP keepalive.
#   ENTRYPOINT ["/usr/local/bin/container-entrypoint.sh"]
#   CMD ["redis-server", "--protected-mode", "no"]
# KEEPALIVE_LIBRARY says where the library is, if not in /usr/local/lib; KEEPALIVE_* variables set
# in the image or at `docker run -e` win over the defaults below.
export LD_PRELOAD="${KEEPALIVE_LIBRARY:-/usr/local/lib/libkeepalive.so}${LD_PRELOAD:+ $LD_PRELOAD}"
export KEEPALIVE_IDLE="${KEEPALIVE_IDLE:-4m}" KEEPALIVE_INTVL="${KEEPALIVE_INTVL:-15s}" KEEPALIVE_CNT="${KEEPALIVE_CNT:-4}"
exec "$@"
