#!/usr/bin/env bash
# Issue 20's acceptance at full size on a localnet of real processes (four nodes, n = 1000):
# a SIZE_GIB blob (default 4) stored with the default memory budget and again with
# --memory-budget 256MiB (--force), each with the client's peak RSS (/usr/bin/time) and every
# node's (VmHWM); read back to a file and compared; then a RESUME_GIB blob (default 2) whose
# store is killed once half its sliver bytes are sent, and stored again: the bytes sent and
# those the nodes held. Needs about 2.5 x SIZE of scratch, 4.8 x (SIZE + RESUME) on the nodes.
# Usage: scripts/huge-blob.sh WALRUS_BINARY [SIZE_GIB] [RESUME_GIB]. Prints one JSON object.
set -euo pipefail
walrus=$1
size_gib=${2:-4}
resume_gib=${3:-2}
. "$(dirname "$0")/localnet-lib.sh"
start_localnet "$walrus"
config=(--config "$dir/net/client_config.yaml")
node_peaks() {
  for pid in $(pgrep -f "node run --config $dir/net"); do
    awk '/VmHWM/ {printf "%d ", $2 / 1024}' "/proc/$pid/status"
  done
}
# One pseudo-random GiB, repeated with a different first 8 bytes per GiB (cheap to write).
make_file() {
  head -c $((1 << 30)) /dev/urandom >"$dir/gib"
  : >"$1"
  for i in $(seq 1 "$2"); do
    printf '%08d' "$i" >>"$1"
    tail -c +9 "$dir/gib" >>"$1"
  done
}
make_file "$dir/huge" "$size_gib"
timed() { /usr/bin/time -f '%e %M' -o "$dir/time" "$@"; read -r secs kib <"$dir/time"; }

timed "$walrus" store "$dir/huge" --epochs 2 --json "${config[@]}" >"$dir/store.json"
default_secs=$secs default_mib=$((kib / 1024))
blob_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"])' "$dir/store.json")
timed "$walrus" store "$dir/huge" --force --epochs 2 --memory-budget 256MiB --json "${config[@]}" >"$dir/store256.json"
budget_secs=$secs budget_mib=$((kib / 1024))
nodes_after_store=$(node_peaks)
timed "$walrus" read "$blob_id" --out "$dir/out" "${config[@]}"
read_secs=$secs read_mib=$((kib / 1024))
cmp -s "$dir/huge" "$dir/out" && same=true || same=false
echo "store default: $default_secs s $default_mib MiB; 256MiB: $budget_secs s $budget_mib MiB; nodes: $nodes_after_store; read: $read_secs s $read_mib MiB same=$same" >&2
rm -f "$dir/out" "$dir/huge"

make_file "$dir/resume" "$resume_gib"
half=$((resume_gib * (1 << 30) * 9 / 4))   # about half the slivers' bytes (4.5 x the blob)
"$walrus" store "$dir/resume" --epochs 2 --memory-budget 256MiB --json "${config[@]}" >/dev/null 2>"$dir/first.err" &
first=$!
# The progress line is only drawn on a terminal: watch the nodes' stored bytes instead.
stored() { du -sb "$dir/net/nodes" | cut -f1; }
base=$(stored)
while kill -0 $first 2>/dev/null && [ $(($(stored) - base)) -lt "$half" ]; do sleep 0.2; done
kill -9 $first 2>/dev/null || true
wait $first 2>/dev/null || true
killed_at=$(($(stored) - base))
timed "$walrus" store "$dir/resume" --epochs 2 --memory-budget 256MiB --json "${config[@]}" >"$dir/resumed.json"
resume_secs=$secs
python3 - "$dir" <<EOF
import json, sys
d = sys.argv[1]
resumed = json.load(open(f"{d}/resumed.json"))[0]
print(json.dumps({
  "size_gib": $size_gib, "blob_id": "$blob_id",
  "store_default_budget": {"seconds": $default_secs, "client_peak_mib": $default_mib},
  "store_256mib_budget": {"seconds": $budget_secs, "client_peak_mib": $budget_mib},
  "node_peaks_mib": [int(x) for x in "$nodes_after_store".split()],
  "read": {"seconds": $read_secs, "client_peak_mib": $read_mib, "same_bytes": "$same" == "true"},
  "resume": {"size_gib": $resume_gib, "node_bytes_when_killed": $killed_at,
             "seconds": $resume_secs, "upload": resumed.get("upload"),
             "resource": list(resumed["blobStoreResult"]["newlyCreated"]["resourceOperation"])},
}, indent=1))
EOF
