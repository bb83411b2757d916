#!/usr/bin/env bash
# Peers on emulated hosts (issue 13): a topology config run as real `gnutella peer`
# processes in network namespaces on a private bridge, with the config's link latency and
# loss, then read back into our report and compared with `gnutella sim` of the same config.
#
#  1. copies CONFIG to WORK/config.json (with --latency-ms/--loss written into its
#     `defaults`), and turns it into per-peer commands with `gnutella export shadow` (the
#     same commands a Shadow run executes: `gnutella peer --seed S --index I --connect ...
#     --search-at MS:TTL:WORDS --json-counters`, start and stop times);
#  2. creates a bridge and one network namespace per peer (or, with --shards N, N
#     namespaces holding the peers round-robin, each peer on its own port), each with its
#     own address 10.77.x.y on the bridge: real kernel networking between hosts;
#  3. starts every peer in its namespace at its time, with `--latency-ms`/`--loss` (the
#     live driver's link model: this kernel has no `tc netem`), or with --netem a netem
#     qdisc on each namespace's interface instead (one peer per namespace);
#  4. stops the peers after the workload (SIGTERM: each prints its `counters` line), lays
#     their outputs out as Shadow does (WORK/data/hosts/<peer>/gnutella.N.stdout) and reads
#     them with `gnutella report shadow`, runs `gnutella sim --topology WORK/config.json`,
#     and prints first-hit hops, milliseconds and messages side by side;
#  5. tears everything down on exit (trap EXIT), also after an error or Ctrl-C.
#
# Usage: scripts/netns-launch.sh CONFIG [--shards N] [--latency-ms MS] [--loss P] [--netem]
#   (as root). Environment: WORK (a new folder under /tmp), GNUTELLA (the binary; default:
#   a release build of this repository), SUBNET (10.77).
# The link model given to the peers is one latency and one loss for all links: a config
# with per-link latencies or loss, or a latency range, is refused (sim and launch model
# those; use them, or Shadow). Not part of CI (it needs root and creates interfaces).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() {
    sed -n '/^# Usage/,/^# Not part/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

CONFIG=""
SHARDS=0
LATENCY=""
LOSS=""
NETEM=0
while [ $# -gt 0 ]; do
    case "$1" in
    --shards) SHARDS=${2:?--shards needs a number}; shift 2 ;;
    --latency-ms) LATENCY=${2:?--latency-ms needs milliseconds}; shift 2 ;;
    --loss) LOSS=${2:?--loss needs a fraction}; shift 2 ;;
    --netem) NETEM=1; shift ;;
    -h | --help) usage ;;
    -*) echo "netns-launch: unknown option $1" >&2; usage ;;
    *) [ -z "$CONFIG" ] || usage; CONFIG=$1; shift ;;
    esac
done
[ -n "$CONFIG" ] || usage
[ -f "$CONFIG" ] || { echo "netns-launch: no such config: $CONFIG" >&2; exit 2; }
case "$SHARDS" in '' | *[!0-9]*) echo "netns-launch: --shards wants a number, not $SHARDS" >&2; exit 2 ;; esac
if [ "$NETEM" = 1 ] && [ "$SHARDS" -gt 0 ]; then
    echo "netns-launch: --netem delays what leaves a namespace, so it needs one peer per namespace (no --shards)" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "netns-launch: run as root (it creates network namespaces, veth pairs and a bridge)" >&2
    exit 1
fi
CONFIG=$(realpath "$CONFIG")
WORK=${WORK:-$(mktemp -d /tmp/netns-launch.XXXXXX)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SUBNET=${SUBNET:-10.77}
if [ -z "${GNUTELLA:-}" ]; then
    cargo build --release --quiet
    GNUTELLA="$ROOT/target/release/gnutella"
    [ -x "$GNUTELLA" ] || GNUTELLA="${CARGO_TARGET_DIR:-$ROOT/target}/release/gnutella"
fi
GNUTELLA=$(realpath "$GNUTELLA")
say() { echo "== $*"; }

# 1. The config with its link model, and the per-peer commands.
python3 - "$CONFIG" "$WORK/config.json" "$LATENCY" "$LOSS" >"$WORK/link-model" <<'PY'
import json, os, sys
src, dst, latency, loss = sys.argv[1:5]
config = json.load(open(src))
# The copy lives elsewhere: shared folders given relative to the config become absolute.
for peer in config.get("peers", []):
    share = peer.get("share") or {}
    if isinstance(share.get("dir"), str) and not os.path.isabs(share["dir"]):
        share["dir"] = os.path.join(os.path.dirname(src), share["dir"])
d = config.setdefault("defaults", {})
if latency:
    d["latency_ms"] = float(latency)
if loss:
    d["loss"] = float(loss)
for link in config.get("links", []):
    if "latency_ms" in link or "loss" in link:
        sys.exit("netns-launch: links[] give per-link latency or loss; peers here take one "
                 "latency and loss for all their links (use sim, launch or Shadow)")
lat = d.get("latency_ms", 0)
if isinstance(lat, dict):
    sys.exit("netns-launch: defaults.latency_ms is a range; give one latency (--latency-ms)")
json.dump(config, open(dst, "w"), indent=1)
print(lat, d.get("loss", 0))
PY
read -r LAT_MS LOSS_P <"$WORK/link-model"
say "link model: ${LAT_MS} ms one-way, loss ${LOSS_P} ($([ "$NETEM" = 1 ] && echo netem || echo 'gnutella peer --latency-ms/--loss'))"
"$GNUTELLA" export shadow "$WORK/config.json" --out "$WORK/export" --binary "$GNUTELLA" >/dev/null
mkdir -p "$WORK/data"

# The plan: one line per peer, `NS IP START_MS STOP_MS HOST ARGS...` (shell-quoted), with
# addresses rewritten to the namespaces'; and the export's host list with those addresses
# as the data directory's processed-config.yaml, for `report shadow`.
python3 - "$WORK/export/shadow.yaml" "$SHARDS" "$SUBNET" "$WORK/plan" \
    "$WORK/data/processed-config.yaml" <<'PY'
import re, shlex, sys
yaml, shards, subnet, plan_path, processed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
lines = open(yaml).read().splitlines()
hosts, cur, proc, in_hosts, in_args = [], None, None, False, False
for line in lines:
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    ind = len(line) - len(line.lstrip())
    body = line.strip()
    if ind == 0:
        in_hosts = body == "hosts:"
        continue
    if not in_hosts:
        continue
    if ind == 2:
        cur = {"name": body.rstrip(":").strip('"'), "ip": None, "procs": []}
        hosts.append(cur)
    elif ind == 4 and body.startswith("ip_addr:"):
        cur["ip"] = body.split(":", 1)[1].strip()
    elif ind == 4 and body.startswith("- path:"):
        proc = {"args": [], "start": 0, "stop": None}
        cur["procs"].append(proc)
        in_args = False
    elif ind == 6 and body == "args:":
        in_args = True
    elif ind == 6 and body.startswith("- ") and in_args:
        proc["args"].append(__import__("json").loads(body[2:]))
    elif ind == 6:
        in_args = False
        key, _, value = body.partition(":")
        ms = re.match(r"\s*(\d+) ms", value)
        if key == "start_time" and ms:
            proc["start"] = int(ms.group(1))
        elif key == "shutdown_time" and ms:
            proc["stop"] = int(ms.group(1))
n = len(hosts)
spaces = shards if shards > 0 else n
def ns_ip(k):
    return f"{subnet}.{k // 250}.{k % 250 + 10}"
# Every peer gets its namespace's address; with shards, its own port too.
where = {}
for i, h in enumerate(hosts):
    k = i % spaces
    h["ns"], h["new_ip"] = k, ns_ip(k)
    for p in h["procs"]:
        a = p["args"]
        if "--listen" in a:
            port = a[a.index("--listen") + 1].rsplit(":", 1)[1]
            new_port = str(20000 + i) if shards > 0 else port
            where[f"{h['ip']}:{port}"] = f"{h['new_ip']}:{new_port}"
            a[a.index("--listen") + 1] = f"0.0.0.0:{new_port}"
with open(plan_path, "w") as out:
    for h in hosts:
        for p in h["procs"]:
            a = [where.get(x, x) for x in p["args"]]
            if p["stop"] is None:
                sys.exit(f"netns-launch: host {h['name']} has no shutdown_time")
            out.write(f"{h['ns']} {h['new_ip']} {p['start']} {p['stop']} {h['name']} "
                      + " ".join(shlex.quote(x) for x in a) + "\n")
            p["args"] = a
# The host list `report shadow` reads (its hosts: layout).
with open(processed, "w") as out:
    out.write("hosts:\n")
    for h in hosts:
        out.write(f"  {h['name']}:\n    ip_addr: {h['new_ip']}\n    processes:\n")
        for p in h["procs"]:
            out.write("    - path: \"gnutella\"\n      args:\n")
            for x in p["args"]:
                out.write("      - " + __import__("json").dumps(x) + "\n")
            out.write(f"      start_time: {p['start']} ms\n")
PY
SPACES=$(cut -d' ' -f1 "$WORK/plan" | sort -un | wc -l)
PEERS=$(wc -l <"$WORK/plan")

# 2. Bridge and namespaces, torn down on any exit.
TAG="gn$$"
BR="${TAG}br"
PIDS=()
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for k in $(seq 0 $((SPACES - 1))); do
        ip netns del "$TAG-$k" 2>/dev/null
        ip link del "${TAG}v$k" 2>/dev/null
    done
    ip link del "$BR" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "bridge $BR, $SPACES namespaces for $PEERS peers"
ip link add name "$BR" type bridge
ip addr add "$SUBNET.255.254/16" dev "$BR"
ip link set "$BR" up
for k in $(seq 0 $((SPACES - 1))); do
    ns="$TAG-$k"
    ip netns add "$ns"
    ip link add "${TAG}v$k" type veth peer name eth0 netns "$ns"
    ip link set "${TAG}v$k" master "$BR" up
    ip -n "$ns" addr add "$SUBNET.$((k / 250)).$((k % 250 + 10))/16" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    if [ "$NETEM" = 1 ]; then
        pct=$(python3 -c "print(float('$LOSS_P') * 100)")
        if ! ip netns exec "$ns" tc qdisc add dev eth0 root netem delay "${LAT_MS}ms" loss "${pct}%"; then
            echo "netns-launch: tc netem failed (this kernel may lack sch_netem); run without --netem" >&2
            exit 1
        fi
    fi
done

# 3. The peers, each at its time; then SIGTERM at its stop time.
LINK_FLAGS=()
if [ "$NETEM" = 0 ]; then
    LINK_FLAGS=(--latency-ms "$LAT_MS" --loss "$LOSS_P")
fi
now_ms() { echo $(($(date +%s%N) / 1000000)); }
T0=$(now_ms)
wait_until() { # ms after T0
    local left=$(($1 - ($(now_ms) - T0)))
    if [ "$left" -gt 0 ]; then sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"; fi
}
STOP=0
n=0
while read -r ns ip start stop host rest; do
    eval "args=($rest)"
    [ "$stop" -gt "$STOP" ] && STOP=$stop
    mkdir -p "$WORK/data/hosts/$host"
    wait_until "$start"
    ip netns exec "$TAG-$ns" "$GNUTELLA" "${args[@]}" "${LINK_FLAGS[@]}" \
        >"$WORK/data/hosts/$host/gnutella.$n.stdout" \
        2>"$WORK/data/hosts/$host/gnutella.$n.stderr" &
    PIDS+=($!)
    n=$((n + 1))
done < <(sort -k3,3n "$WORK/plan")
say "$PEERS peers started; workload running, peers stop $(((STOP - ($(now_ms) - T0)) / 1000)) s from now"
wait_until "$STOP"
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

# 4. The report, the simulator's, and the comparison.
"$GNUTELLA" report shadow "$WORK/data" --json --out "$WORK/report.json" >/dev/null
"$GNUTELLA" sim --topology "$WORK/config.json" --json --quiet >"$WORK/sim.json"
say "report: $WORK/report.json   sim: $WORK/sim.json"
python3 - "$WORK/report.json" "$WORK/sim.json" <<'PY'
import json, sys
live = json.load(open(sys.argv[1]))["queries"]
sim = json.load(open(sys.argv[2]))["queries"]
def key(r):
    return (r.get("origin"), r["query"])
sims = {}
for r in sim:
    sims.setdefault(key(r), []).append(r)
print(f"{'query':<22} {'origin':<6} {'hops':>9} {'1st ms netns':>12} {'1st ms sim':>10} {'diff':>7} {'messages':>13}")
for r in live:
    if r.get("messages") is None:
        continue
    s = (sims.get(key(r)) or [None]).pop(0) if sims.get(key(r)) else None
    if s is None:
        continue
    lm, sm = r.get("first_hit_ms"), s.get("first_hit_ms")
    diff = f"{(lm - sm) / sm * 100:+.1f}%" if lm is not None and sm else "-"
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    hops = f"{r.get('first_hit_hops') if r.get('first_hit_hops') is not None else '-'}/{s.get('first_hit_hops') if s.get('first_hit_hops') is not None else '-'}"
    print(f"{r['query'][:22]:<22} {str(r.get('origin')):<6} {hops:>9} {fmt(lm):>12} {fmt(sm):>10} {diff:>7} {str(r['messages']) + '/' + str(s['messages']):>13}")
PY
