#!/usr/bin/env bash
# The README's first-hour path, as a new user runs it: the main command (`cargo run --release
# --bin walrus -- localnet`), then `walrus store README.md --epochs 2`, `walrus read`, the
# gateway's curl examples and its page, all with a fresh home directory (so ~/.walrus is made
# anew) and the built binary on PATH, as the README says. Run by .ci/run after the release
# build; prints "first hour: ok" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export PATH="$CARGO_HOME/bin:$PATH"
HOME=$(mktemp -d)
export HOME
target="${CARGO_TARGET_DIR:-$PWD/target}"
export PATH="$target/release:$PATH"

cargo run --release --bin walrus -- localnet >"$HOME/localnet.out" 2>"$HOME/localnet.err" &
localnet=$!
trap 'kill -TERM $localnet 2>/dev/null; wait $localnet 2>/dev/null; rm -rf "$HOME"' EXIT
for _ in $(seq 1 600); do
  grep -q "Ctrl-C to stop" "$HOME/localnet.out" && break
  kill -0 $localnet 2>/dev/null || { cat "$HOME/localnet.err" >&2; exit 1; }
  sleep 0.5
done
grep -q "Ctrl-C to stop" "$HOME/localnet.out" || { echo "the localnet did not come up" >&2; cat "$HOME/localnet.err" >&2; exit 1; }

# "Storing and reading on the local network", as written.
walrus store README.md --epochs 2 | tee "$HOME/store.out"
blob_id=$(sed -n 's/^  blob ID: //p' "$HOME/store.out")
[ -n "$blob_id" ] || { echo "no blob ID in the store's output" >&2; exit 1; }
walrus read "$blob_id" --out /tmp/readme.copy
cmp README.md /tmp/readme.copy
rm -f /tmp/readme.copy
# The gateway's examples.
curl -sf -X PUT "http://127.0.0.1:31415/v1/blobs?epochs=2" --upload-file README.md | grep -q '"blobId"'
curl -sf "http://127.0.0.1:31415/v1/blobs/$blob_id" -o "$HOME/readme.gateway"
cmp README.md "$HOME/readme.gateway"
curl -sf "http://127.0.0.1:31415/v1/blobs/$blob_id/byte-range?start=0&length=100" | cmp - <(head -c 100 README.md)
# The page the README points a browser at.
curl -sf "http://127.0.0.1:31415/" | grep -q "<html"
echo "first hour: ok"
