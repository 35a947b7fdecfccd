#!/usr/bin/env bash
# Baseline benchmark of Tahoe-LAFS 1.20.0, for comparison with our network's
# benchmark. Installs tahoe-lafs==1.20.0 into $HOME/.cache/walrus-rs/tahoe-venv
# (once), then, inside a private network namespace with only loopback
# (unshare -n, needs root), starts a grid in a temporary directory: one
# introducer, 4 storage nodes and one client node (shares needed=2, happy=4,
# total=6), and times store (PUT /uri) and read (GET /uri/<cap>) through the
# client's web API with scripts/tahoe_baseline.py. The grid and the temporary
# directory are removed at the end, also on error.
#
#   scripts/tahoe_baseline.sh [--runs N] [--sizes 1024,1048576,67108864] [--out FILE]
#                             [--small-files N]   (N files of 10 KiB put one by one instead)
#
# JSON result on stdout (and FILE); progress on stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$HOME/.cache/walrus-rs/tahoe-venv"
runs=5 sizes=1024,1048576,67108864 out="" small=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --out) out="$(realpath -m "$2")"; shift 2 ;;
    --small-files) small="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--sizes S1,S2,...] [--out FILE] [--small-files N]" >&2; exit 2 ;;
  esac
done
log() { echo "[tahoe_baseline] $*" >&2; }

if [ -z "${TAHOE_BASELINE_INNER:-}" ]; then
  if ! "$venv/bin/tahoe" --version 2>/dev/null | grep -q 'tahoe-lafs/1.20.0'; then
    log "installing tahoe-lafs==1.20.0 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q tahoe-lafs==1.20.0 >&2
  fi
  # Re-run this script in a private network namespace (loopback only).
  exec env TAHOE_BASELINE_INNER=1 unshare -n -- bash "$0" --runs "$runs" --sizes "$sizes" --small-files "$small" ${out:+--out "$out"}
fi

# --- inside the namespace ---
ip link set lo up
tahoe="$venv/bin/tahoe"
tmp="$(mktemp -d /tmp/tahoe-baseline.XXXXXX)"
pids=()
cleanup() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    for f in "$tmp"/*.log; do [ -f "$f" ] && { log "--- tail of $f"; tail -n 15 "$f" >&2; }; done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME: run a node in the background, logging to $tmp/NAME.log
  "$tahoe" run --allow-stdin-close "$tmp/$1" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
base=40100
shares=(--shares-needed=2 --shares-happy=4 --shares-total=6)

log "grid in $tmp"
"$tahoe" create-introducer --listen=tcp --port "tcp:$base:interface=127.0.0.1" \
  --location "tcp:127.0.0.1:$base" "$tmp/introducer" >&2
start introducer
furl_file="$tmp/introducer/private/introducer.furl"
for _ in $(seq 100); do [ -s "$furl_file" ] && break; sleep 0.2; done
[ -s "$furl_file" ] || { log "ERROR: introducer did not write $furl_file within 20 s"; exit 1; }
furl="$(cat "$furl_file")"

for i in 1 2 3 4; do
  "$tahoe" create-node --nickname "storage$i" --introducer "$furl" "${shares[@]}" \
    --listen=tcp --port "tcp:$((base + i)):interface=127.0.0.1" --location "tcp:127.0.0.1:$((base + i))" \
    --webport "tcp:$((base + 10 + i)):interface=127.0.0.1" "$tmp/storage$i" >&2
  start "storage$i"
done
"$tahoe" create-client --nickname client --introducer "$furl" "${shares[@]}" \
  --webport "tcp:$((base + 10)):interface=127.0.0.1" "$tmp/client" >&2
start client

t0=$SECONDS
python3 "$here/tahoe_baseline.py" --url "http://127.0.0.1:$((base + 10))" --servers 4 \
  --runs "$runs" --sizes "$sizes" --small-files "$small" ${out:+--out "$out"} &
pids+=($!)
wait $!  # in the background so that a TERM reaches the trap at once
log "measurement took $((SECONDS - t0)) s"
