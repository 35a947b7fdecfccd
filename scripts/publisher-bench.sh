#!/usr/bin/env bash
# Publisher stores per second with one sub-wallet and with eight, on a localnet of real
# processes (four nodes, n = 1000): `scripts/publisher-bench.sh WALRUS [STORES] [PARALLEL]`
# (default 64 stores of fresh 10 KiB blobs, 16 at a time, through `walrus publisher
# --sub-wallets-dir D --n-clients N`). The last run's figures are in docs/benchmarks.md.
set -euo pipefail
walrus=$(realpath "$1")
stores=${2:-64}
parallel=${3:-16}
# shellcheck source=scripts/localnet-lib.sh
source "$(dirname "$0")/localnet-lib.sh"
start_localnet "$walrus"
config=(--config "$dir/net/client_config.yaml")
for clients in 1 8; do
  "$walrus" publisher --bind-address 127.0.0.1:0 --sub-wallets-dir "$dir/subs-$clients" \
    --n-clients "$clients" --max-concurrent-requests "$parallel" --max-buffer-size "$stores" \
    --wal-refill-amount 50000000000 --sub-wallets-min-balance 10000000000 "${config[@]}" \
    2>"$dir/publisher-$clients.err" &
  publisher=$!
  for _ in $(seq 1 300); do grep -q "Publisher on" "$dir/publisher-$clients.err" && break; sleep 0.1; done
  url=$(sed -n 's/.*Publisher on \(http:\/\/[^ ]*\).*/\1/p' "$dir/publisher-$clients.err")
  mkdir -p "$dir/blobs-$clients"
  for i in $(seq 1 "$stores"); do head -c 10240 /dev/urandom >"$dir/blobs-$clients/$i"; done
  start=$(date +%s.%N)
  seq 1 "$stores" | xargs -P "$parallel" -I{} curl -sf -o /dev/null -X PUT \
    "$url/v1/blobs?epochs=1" --data-binary "@$dir/blobs-$clients/{}"
  end=$(date +%s.%N)
  echo "$clients sub-wallet(s): $stores stores of 10 KiB, $parallel at a time, in $(echo "$end - $start" | bc) s: $(echo "scale=1; $stores / ($end - $start)" | bc) stores/s"
  kill -TERM $publisher
  wait $publisher 2>/dev/null || true
done
