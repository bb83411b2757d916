#!/usr/bin/env bash
# Messages per query of one config under every launch mode, against the simulator, with
# the accounting check: every record must satisfy
#   messages = peers_reached + duplicates + reforwards + refused + lost.
# Re-forwards are the timing effect of several processes (a longer path delivered first).
#
# Usage: scripts/launch-modes.sh [CONFIG...]   (default: ring-16 and random-50; 3 runs each)
# Environment: RUNS (default 3). Needs python3 to read the JSON reports.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CONFIGS=${*:-topology-configs/ring-16.json topology-configs/random-50.json}
cargo build --release --bin gnutella >&2
BIN=${CARGO_TARGET_DIR:-target}/release/gnutella
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT

summarise() {
    python3 - "$1" "$2" "$REPORT" <<'PY'
import json, sys
label, run, path = sys.argv[1], sys.argv[2], sys.argv[3]
queries = json.load(open(path))["queries"]
unbalanced = sum(
    1 for r in queries
    if r["messages"] != r["peers_reached"] + r["duplicates"] + r["reforwards"] + r["refused"] + r["lost"]
)
print(f"{label:12} run {run}: messages {[r['messages'] for r in queries]}  "
      f"reforwards {[r['reforwards'] for r in queries]}  lost {sum(r['lost'] for r in queries)}  "
      f"unbalanced records {unbalanced}  strategy {sorted({r['strategy'] for r in queries})}")
PY
}

for config in $CONFIGS; do
    echo "== $config"
    "$BIN" sim --topology "$config" --json >"$REPORT"
    summarise "sim" 1
    for mode in "" "--processes" "--shards 2"; do
        for run in $(seq "$RUNS"); do
            # shellcheck disable=SC2086
            "$BIN" launch "$config" $mode --run-workload --report "$REPORT" >/dev/null
            summarise "${mode:-one-process}" "$run"
        done
    done
done
