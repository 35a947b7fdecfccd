# Sourced by the scripts that measure a localnet of real processes (not run by itself).
# `start_localnet WALRUS [ARGS...]` starts `WALRUS localnet` at four nodes and n = 1000 (ARGS
# added) in a new temporary directory `$dir`, on ports drawn at random, waits until it is up,
# and stops it and removes `$dir` when the script exits. Sets `dir` and `localnet` (its pid).
start_localnet() {
  local walrus=$1
  shift
  dir=$(mktemp -d)
  local port=$((21000 + (RANDOM % 200) * 40))
  "$walrus" localnet --dir "$dir/net" --nodes 4 --shards 1000 "$@" \
    --chain-port "$port" --p2p-port $((port + 10)) --first-node-port $((port + 20)) \
    --gateway-port $((port + 30)) --wallet "$dir/wallet.key" >"$dir/localnet.out" 2>"$dir/localnet.err" &
  localnet=$!
  trap 'kill -TERM $localnet 2>/dev/null; wait $localnet 2>/dev/null; rm -rf "$dir"' EXIT
  for _ in $(seq 1 240); do
    grep -q "Ctrl-C to stop" "$dir/localnet.out" 2>/dev/null && break
    sleep 0.5
  done
  grep -q "Ctrl-C to stop" "$dir/localnet.out" || { cat "$dir/localnet.err" >&2; exit 1; }
}
