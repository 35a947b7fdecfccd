#!/usr/bin/env bash
# Issue 22's seeded simulation at full size: EPOCHS (default 2000) epochs of storage challenges
# over BLOBS (default 2000) blobs on the real chain state machine and protocol code
# (crates/walrus-chain/tests/simulation.rs), and the cost per node and epoch from the same draw
# code at 10^4, 10^6 and 10^8 blobs. Writes docs/figures/challenge-*.svg and
# docs/figures/challenge-simulation.txt (the figures of docs/economics.md).
# Usage: scripts/challenge-simulation.sh [EPOCHS] [BLOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
export WALRUS_SIM_EPOCHS=${1:-2000} WALRUS_SIM_BLOBS=${2:-2000} WALRUS_SIM_OUT=$PWD/docs/figures
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/walrus-rs/target}
start=$(date +%s)
cargo test --locked -p walrus-chain --test integration simulation::the_full_seeded_run -- --ignored --nocapture
echo "done in $(( $(date +%s) - start )) s; figures in $WALRUS_SIM_OUT"
