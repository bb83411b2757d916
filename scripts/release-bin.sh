#!/usr/bin/env bash
# Builds one release executable and prints its path, wherever cargo puts it
# (CARGO_TARGET_DIR, `build.target-dir` in a cargo config, or ./target), so scripts never
# guess `target/release/...`.
#
#   bin=$(scripts/release-bin.sh)                        # the gnutella binary
#   bench=$(scripts/release-bin.sh --example http_bench) # any other executable target
set -euo pipefail
cd "$(dirname "$0")/.."
selection=("$@")
[ ${#selection[@]} -gt 0 ] || selection=(--bin gnutella)
# Cargo reports every artifact, fresh or rebuilt, as one JSON line; errors are rendered on
# stderr as usual.
path=$(cargo build --release --quiet "${selection[@]}" --message-format=json-render-diagnostics |
    python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
        exe = msg["executable"]
if exe is None:
    sys.exit("cargo built no executable for the selection")
print(exe)
')
[ -x "$path" ] || { echo "release-bin: $path is not an executable" >&2; exit 1; }
echo "$path"
