#!/usr/bin/env bash
# The chain's figures on a local network of real processes: the idle cost of each validator
# (CPU over IDLE_SECONDS, resident memory) and the 1 KiB store and read latency through the SDK
# (`walrus bench`). Usage: scripts/chain-figures.sh WALRUS_BINARY VALIDATORS [IDLE_SECONDS]
# Prints one JSON object. Starts and stops its own localnet in a temporary directory.
set -euo pipefail
walrus=$1
validators=$2
idle=${3:-60}
. "$(dirname "$0")/localnet-lib.sh"
start_localnet "$walrus" --validators "$validators"
pids=$(python3 -c 'import json,sys; print(" ".join(str(v["pid"]) for v in json.load(open(sys.argv[1]))["validators"]))' "$dir/net/localnet.json")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 5
declare -A before
for pid in $pids; do before[$pid]=$(ticks "$pid"); done
sleep "$idle"
hz=$(getconf CLK_TCK)
idle_json=""
for pid in $pids; do
  cpu=$(python3 -c "print(round(100 * ($(ticks "$pid") - ${before[$pid]}) / $hz / $idle, 2))")
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  idle_json="$idle_json{\"cpuPercent\": $cpu, \"rssMiB\": $rss},"
done
bench=$("$walrus" --config "$dir/net/client_config.yaml" bench --sizes 1KiB --runs 20 --json 2>"$dir/bench.err" || cat "$dir/bench.err" >&2)
echo "{\"validators\": $validators, \"idleSeconds\": $idle, \"idle\": [${idle_json%,}], \"bench\": ${bench:-null}}"
