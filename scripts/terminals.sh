#!/usr/bin/env bash
# One tmux window per peer of a topology config, each running `gnutella peer` with the
# config's address and neighbours, plus a last window for searching.
#
#   scripts/terminals.sh topology-configs/quickstart.json
#   tmux attach -t gnutella          # Ctrl-b n / Ctrl-b p to move between peers
#   tmux kill-session -t gnutella    # stop everything (peers send Bye first on Ctrl-C)
#
# Peers that share a real folder (`share.dir`) share it; synthetic files (`share.files`)
# exist only inside `gnutella launch`, so for those use `gnutella launch CONFIG` instead.
# Ports must be real (not 0) in the config, since each peer is its own process.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: scripts/terminals.sh CONFIG.json}
session=${SESSION:-gnutella}
command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 1; }
cargo build --release --quiet
bin="$PWD/target/release/gnutella"
base=$(cd "$(dirname "$config")" && pwd)

# One line per peer: id, listen address, share dir (or -), neighbour addresses.
mapfile -t peers < <(python3 - "$config" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
addr = {p["id"]: p["listen"] for p in cfg["peers"]}
links = {p["id"]: set() for p in cfg["peers"]}
for p in cfg["peers"]:
    for n in p.get("neighbours", []):
        a, b = sorted([p["id"], n])
        links[a].add(b)  # the lower id dials, so each link is made once
for l in cfg.get("links", []):
    a, b = sorted(l["between"])
    links[a].add(b)
for p in cfg["peers"]:
    share = p.get("share", {}).get("dir", "-")
    dials = " ".join(addr[n] for n in sorted(links[p["id"]]))
    print(f'{p["id"]}\t{p["listen"]}\t{share}\t{dials}')
PY
)

tmux new-session -d -s "$session" -n search
first_addr=""
for line in "${peers[@]}"; do
    IFS=$'\t' read -r id listen share dials <<<"$line"
    [ -n "$first_addr" ] || first_addr=$listen
    cmd=("$bin" peer --listen "$listen")
    if [ "$share" != "-" ]; then
        case "$share" in /*) ;; *) share="$base/$share" ;; esac
        cmd+=(--share "$share")
    fi
    for d in $dials; do cmd+=(--connect "$d"); done
    tmux new-window -t "$session" -n "$id" "$(printf '%q ' "${cmd[@]}"); read -r -p 'peer stopped; Enter closes'"
done
tmux send-keys -t "$session:search" "$(printf '%q' "$bin") search WORDS --via $first_addr" ""
echo "started ${#peers[@]} peers in tmux session '$session': tmux attach -t $session"
