#!/bin/sh
# A container entrypoint, as in docs/deployment.md: it preloads the library for everything it starts,
# and everything those start. `entrypoint.sh PORT PYTHON` connects five clients to PORT:
#   python3 and curl, its children;
#   python3 and curl, children of a shell it starts (its grandchildren);
#   python3, child of a python3 it starts (another grandchild).
# Each client waits for the server to close the connection, or gives up after 30 s.
set -eu
export LD_PRELOAD="$KEEPALIVE_LIBRARY${LD_PRELOAD:+ $LD_PRELOAD}"
export KEEPALIVE_IDLE=25
port=$1
python=$2
client="import socket; s = socket.create_connection(('127.0.0.1', $port)); s.settimeout(30); s.recv(1)"
fetch="curl --silent --no-keepalive --max-time 30 http://127.0.0.1:$port/"

"$python" -c "$client" &
$fetch >/dev/null || true &
sh -c "\"$python\" -c \"$client\" & $fetch >/dev/null || true & wait" &
"$python" -c "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])" "$client" &
wait
