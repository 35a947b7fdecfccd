#!/usr/bin/env bash
# Stores through an upload relay against direct stores on a localnet of real processes (four
# nodes, n = 1000): `scripts/relay-bench.sh WALRUS [SIZES_MIB...]` (default 64 1024). For each
# size, a direct store and a store through `walrus upload-relay` (which asks a constant tip),
# each of a fresh file, with the client's peak RSS (/usr/bin/time); then the relay's own peak
# RSS (VmHWM). The last run's figures are in docs/benchmarks.md.
set -euo pipefail
walrus=$(realpath "$1")
shift
sizes=("${@:-64 1024}")
# shellcheck source=scripts/localnet-lib.sh
source "$(dirname "$0")/localnet-lib.sh"
start_localnet "$walrus"
config=(--config "$dir/net/client_config.yaml")
"$walrus" wallet new --wallet "$dir/relay.key" --json >"$dir/relay.json"
address=$(sed 's/.*"address":"\([^"]*\)".*/\1/' "$dir/relay.json")
printf 'tip_config: !send_tip\n  address: %s\n  kind: !const 1000\ntx_freshness_threshold_secs: 600\ntx_max_future_threshold_secs: 30\n' \
  "$address" >"$dir/relay.yaml"
"$walrus" upload-relay --bind 127.0.0.1:0 --relay-config "$dir/relay.yaml" "${config[@]}" 2>"$dir/relay.err" &
relay=$!
trap 'kill -TERM $relay 2>/dev/null; kill -TERM $localnet 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q "upload relay on" "$dir/relay.err" && break; sleep 0.1; done
url=$(sed -n 's/.*upload relay on \(http:\/\/[^ ]*\).*/\1/p' "$dir/relay.err")
for mib in ${sizes[*]}; do
  for how in direct relay; do
    head -c $((mib << 20)) /dev/urandom >"$dir/blob"
    extra=()
    [ "$how" = relay ] && extra=(--upload-relay "$url")
    /usr/bin/time -f "$mib MiB $how: %e s, client %M KB" \
      "$walrus" store "$dir/blob" --epochs 1 "${extra[@]}" --json "${config[@]}" >/dev/null
  done
done
echo "relay peak RSS: $(grep VmHWM /proc/$relay/status)"
