#!/usr/bin/env bash
# The quickstart demo: builds the release binary and runs `gnutella demo` (the quickstart
# network on ephemeral ports, three searches, one verified download, a flooding table).
#   scripts/demo.sh               # as is
#   RUST_LOG=info scripts/demo.sh # with the peers' log on stderr
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- demo "$@"
