#!/usr/bin/env bash
# Browser test of the flood page (`gnutella view`, issue 10): makes traces (the quickstart
# simulated, tree-31 launched live on ephemeral ports, a 1,000-peer random graph, the
# Gnutella08 crawl), draws each as a page, and checks the pages in headless Chromium
# (tests/view/view_test.mjs): every peer drawn, no console error, no network request,
# step() advancing hop, the totals per step equal to the table and at the end to the
# query's record, a clicked hit's path from its responder to the origin, PNG export.
# Then the live page (tests/view/live_test.mjs): the quickstart launched with
# `--ui 127.0.0.1:0`, its peers drawn, a search from the page's form whose flood rows
# arrive with the totals of its record in GET /report, a peer killed with its button
# drawn down and revived; then the same over two processes (`--shards 2`).
# Screenshots land in $OUT (default target/test-view).
#
# Needs: node >= 18 and npm (Debian: apt-get install -y nodejs npm), Debian's Chromium
# (apt-get install -y chromium; or CHROMIUM=/path/to/chrome), and playwright-core,
# which this script installs into tests/view/node_modules with npm when missing.
# The cargo test suite does not need any of this.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/test-view}
mkdir -p "$OUT"

if ! command -v node >/dev/null 2>&1; then
    echo "test-view: node is required (apt-get install -y nodejs npm)" >&2
    exit 1
fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then
    echo "test-view: Chromium is required (apt-get install -y chromium, or set CHROMIUM)" >&2
    exit 1
fi
export CHROMIUM
if [ ! -d tests/view/node_modules/playwright-core ]; then
    npm install --prefix tests/view --no-audit --no-fund --loglevel=error
fi

cargo build --quiet
BIN=${CARGO_TARGET_DIR:-target}/debug/gnutella

# 1. The quickstart network, simulated: every query of its workload.
"$BIN" sim --topology topology-configs/quickstart.json --trace "$OUT/quickstart.jsonl" >/dev/null
"$BIN" view "$OUT/quickstart.jsonl" --out "$OUT/quickstart.html" >/dev/null

# 2. tree-31 launched for real on ephemeral loopback ports, drawn with the config's links.
sed 's/127\.0\.0\.1:[0-9]*/127.0.0.1:0/' topology-configs/tree-31.json >"$OUT/tree-31-port0.json"
timeout 120 "$BIN" launch "$OUT/tree-31-port0.json" --run-workload --quiet-ms 300 \
    --trace "$OUT/tree-31-live.jsonl" >/dev/null
"$BIN" view "$OUT/tree-31-live.jsonl" --topology topology-configs/tree-31.json \
    --out "$OUT/tree-31-live.html" >/dev/null

# 3. A 1,000-peer random graph and the Gnutella08 crawl (6,301 peers), simulated.
"$BIN" sim --gen random:n=1000,d=4 --ttl 5 --queries 3 --trace "$OUT/random-1000.jsonl" >/dev/null
"$BIN" view "$OUT/random-1000.jsonl" --out "$OUT/random-1000.html" >/dev/null
"$BIN" sim --topology data/topologies/p2p-Gnutella08.txt --ttl 4 --queries 2 \
    --trace "$OUT/gnutella08.jsonl" >/dev/null
"$BIN" view "$OUT/gnutella08.jsonl" --out "$OUT/gnutella08.html" >/dev/null

node tests/view/view_test.mjs \
    "$OUT/quickstart.jsonl" "$OUT/quickstart.html" "$OUT/quickstart.png" -- \
    "$OUT/tree-31-live.jsonl" "$OUT/tree-31-live.html" "$OUT/tree-31-live.png" -- \
    "$OUT/random-1000.jsonl" "$OUT/random-1000.html" "$OUT/random-1000.png" -- \
    "$OUT/gnutella08.jsonl" "$OUT/gnutella08.html" "$OUT/gnutella08.png"

# 5. The live page of the quickstart launched on ephemeral ports (p0's share folder
#    dropped: the copy lives in $OUT, and its listed files are enough).
sed -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:0/' -e 's/"dir": "shared\/p0",//' \
    topology-configs/quickstart.json >"$OUT/quickstart-port0.json"
node tests/view/live_test.mjs "$BIN" "$OUT/quickstart-port0.json" "$OUT"

# 6. The same page of the quickstart launched over two processes: the children trace
#    their peers and the launch merges the floods for the page.
mkdir -p "$OUT/shards"
node tests/view/live_test.mjs "$BIN" "$OUT/quickstart-port0.json" "$OUT/shards" --shards 2
