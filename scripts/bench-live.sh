#!/usr/bin/env bash
# Live-network benchmark: real peers on loopback, random graph of mean degree 4.
#
#   scripts/bench-live.sh                # 1,000 peers in one process, then 10,000 in 8 processes
#   SIZES="1000:1" scripts/bench-live.sh # only the first run ("peers:processes", space-separated)
#   BIN=/tmp/gnutella-before SIZES="1000:1" scripts/bench-live.sh  # another executable
#
# For each size it generates the topology (`gnutella topology gen random`), places one
# synthetic file per query on a random peer, adds QUERIES TTL-7 queries from random
# origins (SPACING_MS apart, so floods do not overlap), launches everything with
# `gnutella launch --run-workload` (release build; stream compression is off by default in `launch`) and prints:
# time until every link is up, peak RSS summed over the processes, and over the queries
# the median and p99 time to first hit, its hops, messages per query and success rate,
# and the CPU per Gnutella message against the simulator's CPU per simulated message for
# the same config and workload, measured in the same run (`scripts/cpu-of-run.py`).
# It also prints the floor under the live figure: `benches/loopback_floor.c` (compiled
# here with `cc -O2`) sends one frame per link per round over as many loopback TCP
# connections as the network has links, with nothing but write/epoll/read, and its CPU per
# message is set against the simulator's in the same way.
# The reports stay in target/bench-live/.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000:1 10000:8"}
QUERIES=${QUERIES:-100}
SEED=${SEED:-1}
OUT=target/bench-live
mkdir -p "$OUT"
# One process may hold at most this many open files on this machine.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# BIN=path/to/gnutella compares another build (say, a copy of the one before a change)
# with the same script.
BIN=${BIN:-$(scripts/release-bin.sh)}
FLOOR=$OUT/loopback_floor
cc -O2 -o "$FLOOR" benches/loopback_floor.c

for size in $SIZES; do
    n=${size%%:*}
    procs=${size##*:}
    spacing=${SPACING_MS:-$(( n >= 5000 ? 2000 : 250 ))}
    cfg="$OUT/random-$n.json"
    report="$OUT/report-$n.json"
    "$BIN" topology gen "random:n=$n,d=4" --seed "$SEED" --port-zero --ttl 7 --out "$cfg" >/dev/null
    python3 - "$cfg" "$QUERIES" "$SEED" "$spacing" <<'PY'
import json, random, sys
path, queries, seed, spacing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
cfg = json.load(open(path))
peers = cfg["peers"]
cfg["defaults"]["cache"] = {"mode": "off"}
work = []
for q in range(queries):
    holder = rng.randrange(len(peers))
    origin = rng.randrange(len(peers))
    name = f"benchfile{q:04d}.bin"
    peers[holder].setdefault("share", {}).setdefault("files", []).append({"name": name, "size": 4096})
    work.append({"from": peers[origin]["id"], "words": f"benchfile{q:04d}", "ttl": 7, "at_ms": q * spacing})
cfg["workload"] = {"queries": work}
json.dump(cfg, open(path, "w"))
PY
    shard_args=()
    # Several processes already use both cores: each runs a single-threaded event loop.
    if [ "$procs" -gt 1 ]; then shard_args=(--shards "$procs"); fi
    echo "== $n peers, $procs process(es) =="
    # CPU of the launch's process tree, sampled again once the overlay is up: the
    # difference is the workload's, without the handshakes.
    scripts/cpu-of-run.py "$OUT/cpu-live-$n.json" --mark "overlay up" -- \
        "$BIN" launch "$cfg" "${shard_args[@]}" --run-workload --quiet-ms 500 \
        --overlay-timeout 300 --report "$report" | grep -E "overlay up|report written"
    # The simulator on the same config and workload, and on the same config without its
    # queries (setup only), for its CPU per simulated message.
    python3 - "$cfg" "$OUT/idle-$n.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["workload"]["queries"] = cfg["workload"]["queries"][:1]
json.dump(cfg, open(sys.argv[2], "w"))
PY
    scripts/cpu-of-run.py "$OUT/cpu-sim-$n.json" -- \
        "$BIN" sim --topology "$cfg" --json --quiet >"$OUT/sim-$n.json"
    scripts/cpu-of-run.py "$OUT/cpu-sim-idle-$n.json" -- \
        "$BIN" sim --topology "$OUT/idle-$n.json" --json --quiet >"$OUT/sim-idle-$n.json"
    # The kernel's share: as many loopback links as the network has (capped by what one
    # process may open), one query-sized frame on each per round.
    links=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network"]["links"])' "$report")
    floor_links=$(( links > 8000 ? 8000 : links ))
    "$FLOOR" "$floor_links" "$QUERIES" 48 >"$OUT/floor-$n.txt"
    python3 - "$report" "$OUT" "$n" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
net, qs = r["network"], r["queries"]
hits = [q for q in qs if q["first_hit_ms"] is not None]
ms = sorted(q["first_hit_ms"] for q in hits)
def pct(p):
    return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))] if ms else float("nan")
hops = [q["first_hit_hops"] for q in hits]
at7 = sorted(q["first_hit_ms"] for q in hits if q["first_hit_hops"] >= 6)
print(f"peers {net['peers']}  links {net['links']}  processes {net['processes']}")
print(f"overlay up          {net['overlay_up_ms']:.0f} ms")
print(f"peak RSS (sum)      {net['rss_peak_bytes'] / 2**20:.0f} MiB")
print(f"queries             {len(qs)}, success {len(hits) / max(1, len(qs)):.0%}")
print(f"first hit median    {statistics.median(ms):.2f} ms   p99 {pct(99):.2f} ms   (hops median {statistics.median(hops)})")
if at7:
    print(f"first hit >=6 hops  median {statistics.median(at7):.2f} ms over {len(at7)} queries")
print(f"messages per query  {statistics.mean(q['messages'] for q in qs):.0f} (duplicates {statistics.mean(q['duplicates'] for q in qs):.0f})")
print(f"queue drops         {net['queue_drops']}")

# CPU per message. Live: the workload's CPU (total minus the CPU spent until the overlay
# was up) over messages sent (the records' copies) plus messages received (frames_in).
# Simulated: the run's CPU minus a run of the same config with one query, over the
# difference in simulated messages (each is one copy sent and delivered).
out, n = sys.argv[2], sys.argv[3]
def load(name):
    return json.load(open(f"{out}/{name}"))
live_cpu = load(f"cpu-live-{n}.json")
live_s = live_cpu["total_cpu_s"] - (live_cpu["mark_cpu_s"] or 0.0)
sent = sum(q["messages"] for q in qs)
received = net["frames_in"]
sim_msgs = sum(q["messages"] for q in load(f"sim-{n}.json")["queries"])
idle_msgs = sum(q["messages"] for q in load(f"sim-idle-{n}.json")["queries"])
sim_s = load(f"cpu-sim-{n}.json")["total_cpu_s"] - load(f"cpu-sim-idle-{n}.json")["total_cpu_s"]
live_us = live_s * 1e6 / max(1, sent + received)
sim_us = sim_s * 1e6 / max(1, sim_msgs - idle_msgs)
print(f"live CPU            {live_s:.2f} s for {sent} sent + {received} received: {live_us:.2f} us/message")
print(f"sim CPU             {sim_s:.3f} s for {sim_msgs - idle_msgs} simulated messages: {sim_us:.3f} us/message")
print(f"live / sim          {live_us / sim_us if sim_us > 0 else float('nan'):.1f}x per message (goal <= 8x); {live_s * 1e6 / max(1, sent) / sim_us if sim_us > 0 else float('nan'):.1f}x per copy sent")
floor = open(f"{out}/floor-{n}.txt").read().strip()
floor_us = float(floor.split()[-2])
print(f"loopback TCP floor  {floor}")
print(f"floor / sim         {floor_us / sim_us if sim_us > 0 else float('nan'):.1f}x per message: the kernel alone, before any servent code; live spends {max(0.0, live_us - floor_us):.2f} us/message above it")
PY
done
