#!/usr/bin/env bash
# Scale benchmark of the simulator (issue 4, item 8). Prints the figures for the note.
#
#  (a) one full flood over a 1,000,000-peer random graph of mean degree 4: the simulator
#      (real routing code, whole process) against a plain CSR breadth-first flood over the
#      same graph (benches/plain_flood.rs, same generator and seed); ratio of wall times.
#  (b) 1,000 TTL-7 queries on a 1,000,000-peer Barabasi-Albert graph (m=2): wall time and
#      peak RSS (/usr/bin/time -v).
#  (c) the same full flood on a 100,000-peer graph in Python with networkx
#      (scripts/flood_networkx.py, installed into a venv) against the simulator.
#
# Usage: scripts/bench-sim.sh [a] [b] [c]    (default: all three)
# Environment: N_A, N_B, N_C (peer counts), QUERIES_B, SEED, OUT (work dir).
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${SEED:-1}
N_A=${N_A:-1000000}
N_B=${N_B:-1000000}
N_C=${N_C:-100000}
QUERIES_B=${QUERIES_B:-1000}
OUT=${OUT:-target/bench-sim}
PARTS=${*:-a b c}
mkdir -p "$OUT"

SIM=$(scripts/release-bin.sh)
PLAIN=$(cargo bench --bench plain_flood --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)

# Runs a command under /usr/bin/time -v; prints wall seconds and peak RSS (MiB).
timed() {
    local log=$1
    shift
    /usr/bin/time -v "$@" 2>"$log.time" >"$log.out"
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.time" |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.time")
    echo "$wall $((rss / 1024))"
}

# A one-query flood from a fixed peer: one file on one peer, TTL 255 (the flood stops on
# its own when every peer has seen it).
flood_args() {
    echo "--gen $1 --ttl 255 --max-ttl 255 --queries 1 --files 1 --replicas 1 --seed $SEED --json"
}

origin_of() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queries"][0]["origin"])' "$1"
}

field_of() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queries"][0][sys.argv[2]])' "$1" "$2"
}

if [[ $PARTS == *a* ]]; then
    SPEC="random:n=$N_A,d=4"
    echo "== (a) one full flood, $SPEC, seed $SEED"
    read -r sim_wall sim_rss < <(timed "$OUT/a-sim" $SIM sim $(flood_args "$SPEC"))
    origin=$(origin_of "$OUT/a-sim.out")
    read -r plain_wall plain_rss < <(timed "$OUT/a-plain" "$PLAIN" "$SPEC" "$SEED" "$origin" 255)
    echo "simulator:  wall ${sim_wall}s, peak RSS ${sim_rss} MiB," \
        "messages $(field_of "$OUT/a-sim.out" messages), peers_reached $(field_of "$OUT/a-sim.out" peers_reached)"
    echo "plain flood: wall ${plain_wall}s, peak RSS ${plain_rss} MiB; $(sed -n 2,3p "$OUT/a-plain.out" | tr '\n' ' ')"
    python3 -c "import sys; print(f'ratio simulator / plain flood (whole process): {float(sys.argv[1]) / float(sys.argv[2]):.2f}x')" "$sim_wall" "$plain_wall"
fi

if [[ $PARTS == *b* ]]; then
    SPEC="ba:n=$N_B,m=2"
    echo "== (b) $QUERIES_B TTL-7 queries, $SPEC, seed $SEED"
    # One query a virtual second; a TTL-7 flood and its hits settle within ~150 ms of
    # virtual time, so no two searches are ever in flight together and 8 duplicate-table
    # slots per node suffice: the table only ever needs the GUIDs of searches in flight.
    read -r wall rss < <(timed "$OUT/b-sim" $SIM sim --gen "$SPEC" --ttl 7 --queries "$QUERIES_B" \
        --every-ms 1000 --files 100 --replicas 10 --seen-capacity 8 --settle-secs 5 --seed "$SEED")
    echo "simulator: wall ${wall}s, peak RSS ${rss} MiB"
    cat "$OUT/b-sim.out"
fi

if [[ $PARTS == *c* ]]; then
    SPEC="random:n=$N_C,d=4"
    echo "== (c) one full flood, $SPEC, seed $SEED: simulator vs Python/networkx"
    if [[ ! -x $OUT/venv/bin/python ]]; then
        python3 -m venv "$OUT/venv"
        "$OUT/venv/bin/pip" install --quiet networkx
    fi
    read -r sim_wall sim_rss < <(RUST_LOG=info timed "$OUT/c-sim" $SIM sim $(flood_args "$SPEC"))
    origin=$(origin_of "$OUT/c-sim.out")
    # The very same graph, written out by the topology tool for networkx to read.
    $SIM topology gen "$SPEC" --seed "$SEED" --port-zero --out "$OUT/c-graph.json" >/dev/null
    read -r py_wall py_rss < <(timed "$OUT/c-py" "$OUT/venv/bin/python" scripts/flood_networkx.py \
        "$OUT/c-graph.json" "$origin" 255)
    echo "simulator: wall ${sim_wall}s, messages $(field_of "$OUT/c-sim.out" messages)," \
        "peers_reached $(field_of "$OUT/c-sim.out" peers_reached)"
    echo "networkx:  wall ${py_wall}s; $(tr '\n' ' ' <"$OUT/c-py.out")"
    bfs_s=$(sed -n 's/.*bfs_s=\([0-9.]*\).*/\1/p' "$OUT/c-py.out")
    des_s=$(sed -n 's/.*des_s=\([0-9.]*\).*/\1/p' "$OUT/c-py.out")
    sim_flood_s=$(sed -n 's/.*run_s=\([0-9.]*\).*/\1/p' "$OUT/c-sim.time")
    python3 -c "import sys; w,f,b,d=map(float,sys.argv[1:]); print(f'simulator whole process {w:.2f}s (its flood {f:.3f}s); networkx BFS flood {b:.2f}s, networkx event-driven flood {d:.2f}s; speed-up of the simulated flood over the Python event-driven one: {d / f:.0f}x, whole simulator process vs it: {d / w:.1f}x')" \
        "$sim_wall" "$sim_flood_s" "$bfs_s" "$des_s"
fi
