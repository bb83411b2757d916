#!/usr/bin/env bash
# One tmux window per peer of a topology config, each running `gnutella peer` with the
# config's address and neighbours, plus a first window for searching.
#
#   scripts/terminals.sh topology-configs/quickstart.json
#   tmux attach -t gnutella          # Ctrl-b n / Ctrl-b p to move between peers
#   tmux kill-session -t gnutella    # stop everything (peers send Bye first on Ctrl-C)
#
# SESSION=name picks another tmux session name; WAIT=seconds how long peers get to start
# listening (default 10). The binary is built in release mode wherever cargo puts it
# (CARGO_TARGET_DIR is honoured). Each peer's output is also kept in a log file whose
# folder is printed. If any peer fails to start (a port in use, a bad share folder), the
# script prints its output, removes the session and exits non-zero.
#
# Peers that share a real folder (`share.dir`) share it; synthetic files (`share.files`)
# exist only inside `gnutella launch`, so for those use `gnutella launch CONFIG` instead.
# Ports must be real (not 0) in the config, since each peer is its own process.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: scripts/terminals.sh CONFIG.json}
session=${SESSION:-gnutella}
wait_secs=${WAIT:-10}
command -v tmux >/dev/null || { echo "terminals.sh: tmux is needed (apt-get install tmux)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "terminals.sh: python3 is needed" >&2; exit 1; }
[ -f "$config" ] || { echo "terminals.sh: no such config: $config" >&2; exit 1; }
if tmux has-session -t "$session" 2>/dev/null; then
    echo "terminals.sh: tmux session '$session' exists already (tmux kill-session -t $session, or SESSION=other)" >&2
    exit 1
fi
bin=$(scripts/release-bin.sh)
base=$(cd "$(dirname "$config")" && pwd)

# One line per peer: id, listen address, share dir (or -), neighbour addresses.
peer_lines=$(python3 - "$config" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
addr = {p["id"]: p["listen"] for p in cfg["peers"]}
zero = [p["id"] for p in cfg["peers"] if p["listen"].endswith(":0")]
if zero:
    sys.exit(f"terminals.sh: peers {', '.join(zero[:5])} listen on port 0; each peer is its own "
             "process here, so the others could not find it: give real ports "
             "(gnutella topology gen ... --base-port 6346) or use gnutella launch")
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
mapfile -t peers <<<"$peer_lines"

logs=$(mktemp -d "${TMPDIR:-/tmp}/gnutella-terminals.XXXXXX")
tmux new-session -d -s "$session" -n search
first_addr=""
ids=()
for line in "${peers[@]}"; do
    IFS=$'\t' read -r id listen share dials <<<"$line"
    [ -n "$first_addr" ] || first_addr=$listen
    ids+=("$id")
    cmd=("$bin" peer --listen "$listen")
    if [ "$share" != "-" ]; then
        case "$share" in /*) ;; *) share="$base/$share" ;; esac
        cmd+=(--share "$share")
    fi
    for d in $dials; do cmd+=(--connect "$d"); done
    # The pane shows the peer's output and keeps it in $logs/$id.log; when the peer ends,
    # its exit status goes to $logs/$id.exit and the pane waits for Enter.
    pane="set -o pipefail; $(printf '%q ' "${cmd[@]}") 2>&1 | tee $(printf '%q' "$logs/$id.log"); echo \$? > $(printf '%q' "$logs/$id.exit"); read -r -p 'peer stopped; Enter closes'"
    tmux new-window -t "$session" -n "$id" "bash -c $(printf '%q' "$pane")"
done

# Every peer must say it listens; one that exits instead fails the whole script.
deadline=$((SECONDS + wait_secs))
while :; do
    pending=()
    for id in "${ids[@]}"; do
        if [ -f "$logs/$id.exit" ]; then
            echo "terminals.sh: peer $id exited (status $(cat "$logs/$id.exit")) instead of listening:" >&2
            sed 's/^/    /' "$logs/$id.log" >&2 || true
            tmux kill-session -t "$session" 2>/dev/null || true
            exit 1
        fi
        grep -q "listening on" "$logs/$id.log" 2>/dev/null || pending+=("$id")
    done
    [ ${#pending[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
        echo "terminals.sh: after ${wait_secs} s these peers are not listening yet: ${pending[*]} (logs in $logs)" >&2
        tmux kill-session -t "$session" 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done
tmux send-keys -t "$session:search" "$(printf '%q' "$bin") search WORDS --via $first_addr" ""
echo "started ${#ids[@]} peers in tmux session '$session' (logs in $logs): tmux attach -t $session"
