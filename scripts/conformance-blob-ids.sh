#!/usr/bin/env bash
# Compares the blob IDs computed by this project's `walrus` CLI with the official Walrus encoder
# (@mysten/walrus-wasm, via the conformance kit's blob-id.mjs) on a few fresh inputs, including
# random ones, for n = 4, 10 and 1000 shards.
#
# Usage: scripts/conformance-blob-ids.sh PATH/TO/walrus [CONFORMANCE_DIR]
#   CONFORMANCE_DIR  an installed kit dir (holds blob-id.mjs and node_modules). Defaults to
#                    $WALRUS_CONFORMANCE_DIR if it is installed there, else the output of the kit's
#                    setup.sh ($WALRUS_CONFORMANCE_KIT, default ../shared/conformance from the repo root).
#   CONFORMANCE_OPTIONAL=1  if the kit (or node) is unavailable, print a SKIP line and exit 0
#                           instead of failing.
set -euo pipefail

usage() { echo "usage: $0 PATH/TO/walrus [CONFORMANCE_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage

walrus=$1
if [ ! -x "$walrus" ] || [ -d "$walrus" ]; then
  echo "FAIL: walrus binary '$walrus' does not exist or is not executable" >&2
  exit 1
fi

unavailable() {
  if [ "${CONFORMANCE_OPTIONAL:-0}" = "1" ]; then
    echo "SKIP: blob ID conformance: $1"
    exit 0
  fi
  echo "FAIL: blob ID conformance: $1 (set CONFORMANCE_OPTIONAL=1 to skip instead)" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || unavailable "node is not installed"

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
installed() { [ -n "$1" ] && [ -f "$1/blob-id.mjs" ] && [ -d "$1/node_modules/@mysten/walrus-wasm" ]; }

dir=${2:-}
if [ -n "$dir" ]; then
  installed "$dir" || unavailable "conformance dir '$dir' has no installed blob-id.mjs"
elif installed "${WALRUS_CONFORMANCE_DIR:-}"; then
  dir=$WALRUS_CONFORMANCE_DIR
else
  kit=${WALRUS_CONFORMANCE_KIT:-$repo_root/../shared/conformance}
  [ -x "$kit/setup.sh" ] || unavailable "conformance kit not found at $kit"
  dir=$("$kit/setup.sh") || unavailable "$kit/setup.sh failed"
  installed "$dir" || unavailable "setup.sh printed '$dir', which has no installed blob-id.mjs"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/walrus-blob-id-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Inputs: empty, one byte, a short known string, just over 1 MiB of random bytes, and a random
# size with random content (so repeated CI runs cover different symbol sizes).
: >"$work/empty.bin"
head -c 1 /dev/urandom >"$work/one-byte.bin"
printf '%s' 'some other string' >"$work/some-other-string.txt"
head -c $((1048576 + 3)) /dev/urandom >"$work/1MiB-plus-3.bin"
rand_len=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 200000 ))
head -c "$rand_len" /dev/urandom >"$work/random-$rand_len.bin"
files=("$work/empty.bin" "$work/one-byte.bin" "$work/some-other-string.txt" "$work/1MiB-plus-3.bin" "$work/random-$rand_len.bin")

# Prints "<blobId> <unencodedLength/size> <shards>" from one JSON object on stdin.
# $1: the key holding the length, $2: the key holding the shard count.
json_fields() {
  node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      let o;
      try { o = JSON.parse(s.trim()); } catch (e) { console.error(`not JSON: ${JSON.stringify(s)}`); process.exit(1); }
      const [lenKey, nKey] = process.argv.slice(1);
      if (typeof o.blobId !== "string") { console.error(`no blobId in ${JSON.stringify(o)}`); process.exit(1); }
      console.log(`${o.blobId} ${o[lenKey]} ${o[nKey]}`);
    });' "$1" "$2"
}

# The "Error: ..." line of a node error log (or the whole log if there is none).
error_line() { grep -m1 '^Error' "$1" || cat "$1"; }

failures=0
checks=0
for n in 4 10 1000; do
  for file in "${files[@]}"; do
    name=$(basename "$file")
    size=$(wc -c <"$file" | tr -d ' ')
    checks=$((checks + 1))
    f=$(( (n - 1) / 3 ))
    max=$(( (n - 2 * f) * (n - f) * 65534 ))
    if [ "$size" -gt "$max" ]; then
      # Too large for n shards (max k*65534 bytes): both encoders must reject it.
      if node "$dir/blob-id.mjs" --shards "$n" "$file" >/dev/null 2>"$work/ref.err"; then
        echo "FAIL n=$n $name ($size B): reference encoder accepted a blob above the computed maximum $max B" >&2
        failures=$((failures + 1)); continue
      fi
      if "$walrus" blob-id --json --n-shards "$n" "$file" >"$work/our.out" 2>"$work/our.err"; then
        echo "FAIL n=$n $name ($size B): walrus accepted a blob above the maximum $max B (the reference rejects it: $(error_line "$work/ref.err"))" >&2
        sed 's/^/    stdout: /' "$work/our.out" >&2
        failures=$((failures + 1)); continue
      fi
      echo "ok   n=$n $name ($size B) rejected by both as too large (max $max B)"
      continue
    fi
    if ! ref_json=$(node "$dir/blob-id.mjs" --shards "$n" "$file" 2>"$work/ref.err"); then
      echo "FAIL n=$n $name ($size B): reference encoder failed: $(error_line "$work/ref.err")" >&2
      failures=$((failures + 1)); continue
    fi
    if ! ref_fields=$(printf '%s' "$ref_json" | json_fields size shards 2>"$work/parse.err"); then
      echo "FAIL n=$n $name ($size B): cannot parse reference encoder output:" >&2
      sed 's/^/    /' "$work/parse.err" >&2
      failures=$((failures + 1)); continue
    fi
    read -r ref_id ref_len ref_n <<<"$ref_fields"
    if ! our_json=$("$walrus" blob-id --json --n-shards "$n" "$file" 2>"$work/our.err"); then
      echo "FAIL n=$n $name ($size B): '$walrus blob-id --json --n-shards $n' exited non-zero:" >&2
      sed 's/^/    /' "$work/our.err" >&2
      failures=$((failures + 1)); continue
    fi
    if ! fields=$(printf '%s' "$our_json" | json_fields unencodedLength nShards 2>"$work/parse.err"); then
      echo "FAIL n=$n $name ($size B): cannot parse walrus output:" >&2
      sed 's/^/    /' "$work/parse.err" >&2
      failures=$((failures + 1)); continue
    fi
    read -r our_id our_len our_n <<<"$fields"
    if [ "$our_id" != "$ref_id" ] || [ "$our_len" != "$size" ] || [ "$our_n" != "$n" ]; then
      echo "FAIL n=$n $name ($size B): blob ID differs from the reference encoder" >&2
      echo "    - reference (@mysten/walrus-wasm): blobId=$ref_id unencodedLength=$ref_len nShards=$ref_n" >&2
      echo "    + walrus blob-id:                  blobId=$our_id unencodedLength=$our_len nShards=$our_n" >&2
      failures=$((failures + 1)); continue
    fi
    echo "ok   n=$n $name ($size B) $our_id"
  done
done

if [ "$failures" -ne 0 ]; then
  echo "FAIL: blob ID conformance: $failures of $checks checks differ from the official encoder" >&2
  exit 1
fi
echo "PASS: blob ID conformance: $checks checks match the official encoder"
