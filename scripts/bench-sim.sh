#!/usr/bin/env bash
# Scale benchmark of the simulator (issues 4 and 11). Prints the figures for the README.
#
#  (a) one full flood (TTL 255 from one peer) over random graphs of mean degree 4, at
#      SIZES_A peers (default 10^5, 10^6, 3*10^6): the simulator against a plain C CSR flood
#      (benches/plain_flood.c, compiled here with the system `cc -O2`), run in turn in
#      the same invocation; CPU time (user + sys) and peak RSS per peer of
#      both, and ratios.
#  (b) QUERIES_B (default 100) TTL-7 queries on a Barabasi-Albert graph, N_B (10^6) peers,
#      m = 2: the simulator against the same C flood run from the same origins. The goal
#      figure of issue 11 (1,000 queries within 60 s of wall time) is QUERIES_B=1000.
#  In (a) and (b) a third program runs too, the Gnutella floor (benches/gnutella_floor.c,
#  `cc -O2`): the least work Gnutella's routing rules require, in plain C: a 32-byte route
#  entry per peer (GUID, link it came from, TTL, time; up to 8 with older ones behind a
#  pointer, as --seen-capacity 8), a FIFO event queue of 40-byte descriptors (GUID, TTL,
#  hops on the wire), duplicates found by GUID, and the QueryHits of the simulator's own
#  file placement routed back hop by hop through the route entries. Its line gives
#  ours/floor (the simulator's software overhead) and floor/C (what the protocol's state
#  costs on this machine against one seen stamp per peer). It is not the goal's baseline:
#  issue 11's goals stay against plain C. Its message, duplicate and hit-message counts must
#  equal the simulator's (checked, like C's).
#  (c) the full flood on an N_C-peer (10^5) random graph in Python with networkx
#      (scripts/flood_networkx.py, installed into a venv) against the simulator.
#
# Same work on the same graph: the simulator generates its graph (`--gen SPEC --seed S`);
# benches/plain_flood.rs writes that very graph from the same generator and seed to a
# binary edge list (not timed), which the C program reads, turns into CSR arrays and
# floods; it also writes the simulator's planned queries (origin, holders of the file asked
# for), from the same workload generator, for the floor. All therefore flood identical
# graphs from identical origins and must report
# identical message counts (checked below: a mismatch is printed as an error). Whole
# processes are timed: ours includes generating the graph, C's includes reading it (a
# 16-byte-per-link binary file, cheaper than generating), so the CPU ratio leans against
# the simulator; the flood-only times (our event loop's run_s, C's flood_s) are printed
# too. The C flood does not route QueryHits back (the simulator does; in (b) they are
# under 0.01 % of the messages). Peak RSS is the kernel's maximum resident set size of the
# process (as /usr/bin/time -v reports it), divided by the peer count.
#
# Usage: scripts/bench-sim.sh [a] [b] [c]    (default: all three)
# Environment: SIZES_A (peer counts of (a)), N_B, QUERIES_B, N_C, SEED, OUT (work dir), SIM,
#   THREADS (the simulator's --threads in (b); default: its own, every core that fits),
#   REPEAT (runs of each side per measure, interleaved: simulator, C, floor, then again;
#   the median is reported; default 1).
# Run the big sizes alone: a 3*10^6-peer flood takes about 2 GiB and several CPU seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${SEED:-1}
SIZES_A=${SIZES_A:-100000 1000000 3000000}
N_B=${N_B:-1000000}
N_C=${N_C:-100000}
QUERIES_B=${QUERIES_B:-100}
THREADS=${THREADS:-}
REPEAT=${REPEAT:-1}
OUT=${OUT:-target/bench-sim}
PARTS=${*:-a b c}
mkdir -p "$OUT"
# Any ERROR below (counts or origins that differ between the programs) marks the run
# failed: its ratios would compare different work.
rm -f "$OUT/mismatch"

# SIM: the simulator binary to measure (default: this tree's release build), e.g. an
# older build for a before/after comparison.
SIM=${SIM:-$(scripts/release-bin.sh)}
PLAIN=$(cargo bench --bench plain_flood --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
CFLOOD=$OUT/plain_flood_c
cc -O2 -o "$CFLOOD" benches/plain_flood.c
FLOOR=$OUT/gnutella_floor_c
cc -O2 -o "$FLOOR" benches/gnutella_floor.c

# Runs a command (stdout to $log.out, stderr to $log.time); prints wall seconds, CPU
# seconds (user + sys) and peak RSS in KiB. The peak RSS is /usr/bin/time -v's; the CPU
# time is the same kernel rusage read through wait4 with microsecond resolution (time
# prints 10 ms), and includes time's own ~1 ms.
timed() {
    local log=$1
    shift
    python3 - "$log" "$@" <<'PY'
import os, re, subprocess, sys, time
log, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
with open(log + ".out", "wb") as out, open(log + ".time", "wb") as err:
    child = subprocess.Popen(["/usr/bin/time", "-v", "-o", log + ".rusage"] + cmd, stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
wall = time.monotonic() - start
if status != 0:
    sys.exit(f"{cmd[0]} failed (status {status}); see {log}.time")
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log + ".rusage").read()).group(1)
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.4f} {rss}")
PY
}

# The median wall, CPU and RSS (each its own median) of `timed`'s rows on stdin.
median_rows() {
    python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin]
print(" ".join(f"{statistics.median(c):.3f}" for c in zip(*rows)))'
}

# Runs the simulator (the array SIM_CMD), C (C_CMD) and the floor (FLOOR_CMD) in turn,
# REPEAT rounds, logs $1-sim, $1-c, $1-floor; prints the three sides' medians, one line each.
timed_three() {
    local log=$1
    rm -f "$log"-{sim,c,floor}.rows
    for _ in $(seq "$REPEAT"); do
        RUST_LOG=info timed "$log-sim" "${SIM_CMD[@]}" >>"$log-sim.rows"
        timed "$log-c" "${C_CMD[@]}" >>"$log-c.rows"
        timed "$log-floor" "${FLOOR_CMD[@]}" >>"$log-floor.rows"
    done
    for side in sim c floor; do median_rows <"$log-$side.rows"; done
}

# A one-query flood from a fixed peer: one file on one peer, TTL 255 (the flood stops on
# its own when every peer has seen it).
flood_args() {
    echo "--gen $1 --ttl 255 --max-ttl 255 --queries 1 --files 1 --replicas 1 --seed $SEED --json --quiet"
}

# The sum of one field over a JSON report's queries.
sum_of() {
    python3 -c 'import json,sys; print(sum(q[sys.argv[2]] for q in json.load(open(sys.argv[1]))["queries"]))' "$1" "$2"
}

# One row of the comparison: label, peers, then wall/cpu/rss (KiB) of ours and of C.
compare() {
    python3 - "$@" <<'PY'
import sys
label, n = sys.argv[1], int(sys.argv[2])
ow, oc, orss, cw, cc, crss = map(float, sys.argv[3:9])
print(f"{label}: CPU ours {oc:.2f} s, C {cc:.3f} s, ratio {oc / max(cc, 1e-4):.1f}x | "
      f"peak RSS per peer ours {orss * 1024 / n:.0f} B, C {crss * 1024 / n:.0f} B, "
      f"ratio {orss / crss:.1f}x | wall ours {ow:.2f} s, C {cw:.3f} s")
PY
}

# One measure's result: checks that both sides sent the same number of Query messages
# (a mismatch is an error: not the same flood) and prints the comparison row.
# Arguments: label, peers, our log, C's log, then wall/cpu/rss of ours and of C.
both_sides() {
    local sim_msgs c_msgs
    sim_msgs=$(sum_of "$3.out" messages)
    c_msgs=$(sed -n 's/^messages=\([0-9]*\).*/\1/p' "$4.out")
    if [[ $sim_msgs != "$c_msgs" ]]; then
        echo "ERROR: message counts differ (simulator $sim_msgs, C $c_msgs): not the same flood" >&2
        : >"$OUT/mismatch"
    fi
    compare "$1" "$2" "${@:5}"
}

run_s_of() { sed -n 's/.*run_s=\([0-9.]*\).*/\1/p' "$1"; }

# The value of `key=` in a C program's output ($1: log prefix, $2: key).
c_field() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" "$1.out"; }

# The floor's lines: counts checked against the simulator's (queries, then hits), CPU and
# RSS against ours and C's, and where C and floor spend their time.
# Arguments: peers, our log, C's log, the floor's log, then wall/cpu/rss of ours, C, floor.
floor_side() {
    local key ours floor
    for key in messages duplicates hit_messages hits; do
        ours=$(sum_of "$2.out" "$key")
        floor=$(c_field "$4" "$key")
        if [[ $ours != "$floor" ]]; then
            echo "ERROR: $key differ (simulator $ours, floor $floor): not the same flood" >&2
            : >"$OUT/mismatch"
        fi
    done
    python3 - "$@" "$(c_field "$4" hit_messages)" <<'PY'
import sys
n = int(sys.argv[1])
ow, oc, orss, cw, cc, crss, fw, fc, frss = map(float, sys.argv[5:14])
print(f"    Gnutella floor (benches/gnutella_floor.c): CPU {fc:.3f} s, peak RSS per peer "
      f"{frss * 1024 / n:.0f} B, wall {fw:.3f} s, {sys.argv[14]} hit messages on both sides | "
      f"ours/floor CPU {oc / max(fc, 1e-4):.1f}x, RSS {orss / frss:.1f}x | "
      f"floor/C CPU {fc / max(cc, 1e-4):.1f}x, RSS {frss / crss:.1f}x")
PY
    echo "    loading the graph vs flooding, CPU seconds (last run): C $(sed -n 4p "$3.out"), floor $(sed -n 4p "$4.out");" \
        "floor $(sed -n 5p "$4.out" | sed 's/hit_messages=[0-9]* //')"
}

if [[ $PARTS == *a* ]]; then
    echo "== (a) one full flood, random graphs of mean degree 4, seed $SEED"
    for n in $SIZES_A; do
        SPEC="random:n=$n,d=4"
        "$PLAIN" "$SPEC" "$SEED" --edges-out "$OUT/a-$n.gne" \
            --queries-out "$OUT/a-$n.queries" --files 1 --replicas 1 --queries 1 >/dev/null
        origin=$(cut -d' ' -f1 "$OUT/a-$n.queries")
        # shellcheck disable=SC2207 # flood_args is a list of words
        SIM_CMD=($SIM sim $(flood_args "$SPEC"))
        C_CMD=("$CFLOOD" "$OUT/a-$n.gne" 255 "$origin")
        FLOOR_CMD=("$FLOOR" "$OUT/a-$n.gne" 255 "@$OUT/a-$n.queries")
        { read -r s_wall s_cpu s_rss; read -r c_wall c_cpu c_rss; read -r f_wall f_cpu f_rss; } \
            < <(timed_three "$OUT/a-$n")
        rm -f "$OUT/a-$n.gne"
        sim_origin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queries"][0]["origin"])' "$OUT/a-$n-sim.out")
        if [[ $sim_origin != "$origin" ]]; then
            echo "ERROR: origins differ (simulator $sim_origin, plain_flood's workload $origin)" >&2
            : >"$OUT/mismatch"
        fi
        both_sides "n=$n" "$n" "$OUT/a-$n-sim" "$OUT/a-$n-c" \
            "$s_wall" "$s_cpu" "$s_rss" "$c_wall" "$c_cpu" "$c_rss"
        echo "    messages $(sum_of "$OUT/a-$n-sim.out" messages) on both sides, peers reached $(sum_of "$OUT/a-$n-sim.out" peers_reached);" \
            "flood only: ours run_s=$(run_s_of "$OUT/a-$n-sim.time"), C $(sed -n 3p "$OUT/a-$n-c.out")"
        floor_side "$n" "$OUT/a-$n-sim" "$OUT/a-$n-c" "$OUT/a-$n-floor" \
            "$s_wall" "$s_cpu" "$s_rss" "$c_wall" "$c_cpu" "$c_rss" "$f_wall" "$f_cpu" "$f_rss"
    done
fi

if [[ $PARTS == *b* ]]; then
    SPEC="ba:n=$N_B,m=2"
    echo "== (b) $QUERIES_B TTL-7 queries, $SPEC, seed $SEED"
    "$PLAIN" "$SPEC" "$SEED" --edges-out "$OUT/b.gne" \
        --queries-out "$OUT/b.queries" --files 100 --replicas 10 --queries "$QUERIES_B" >/dev/null
    cut -d' ' -f1 "$OUT/b.queries" >"$OUT/b-origins.txt"
    # One query a virtual second; a TTL-7 flood and its hits settle within ~150 ms of
    # virtual time, so no two searches are ever in flight together and 8 duplicate-table
    # slots per node suffice: the table only ever needs the GUIDs of searches in flight.
    SIM_CMD=($SIM sim --gen "$SPEC" --ttl 7 ${THREADS:+--threads "$THREADS"} --queries "$QUERIES_B"
        --every-ms 1000 --files 100 --replicas 10 --seen-capacity 8 --settle-secs 5 --seed "$SEED" --json --quiet)
    C_CMD=("$CFLOOD" "$OUT/b.gne" 7 "@$OUT/b-origins.txt")
    FLOOR_CMD=("$FLOOR" "$OUT/b.gne" 7 "@$OUT/b.queries")
    { read -r s_wall s_cpu s_rss; read -r c_wall c_cpu c_rss; read -r f_wall f_cpu f_rss; } \
        < <(timed_three "$OUT/b")
    rm -f "$OUT/b.gne"
    if ! python3 -c 'import json,sys; sys.exit([int(q["origin"]) for q in json.load(open(sys.argv[1]))["queries"]] != [int(l) for l in open(sys.argv[2])])' \
        "$OUT/b-sim.out" "$OUT/b-origins.txt"; then
        echo "ERROR: the simulator's origins differ from plain_flood's workload" >&2
        : >"$OUT/mismatch"
    fi
    both_sides "$QUERIES_B queries" "$N_B" "$OUT/b-sim" "$OUT/b-c" \
        "$s_wall" "$s_cpu" "$s_rss" "$c_wall" "$c_cpu" "$c_rss"
    sim_msgs=$(sum_of "$OUT/b-sim.out" messages)
    python3 -c "import sys; m=int(sys.argv[1]); print(f'    {m} query messages, hits routed back by the simulator only: {int(sys.argv[2])}; per message: ours {float(sys.argv[3]) / m * 1e6:.3f} us, C {float(sys.argv[4]) / m * 1e6:.3f} us (CPU)')" \
        "$sim_msgs" "$(sum_of "$OUT/b-sim.out" hit_messages)" "$s_cpu" "$c_cpu"
    echo "    flood only: ours run_s=$(run_s_of "$OUT/b-sim.time"), C $(sed -n 3p "$OUT/b-c.out")"
    floor_side "$N_B" "$OUT/b-sim" "$OUT/b-c" "$OUT/b-floor" \
        "$s_wall" "$s_cpu" "$s_rss" "$c_wall" "$c_cpu" "$c_rss" "$f_wall" "$f_cpu" "$f_rss"
    python3 -c "import sys; m=int(sys.argv[1]); print(f'    per message, floor: {float(sys.argv[2]) / m * 1e6:.3f} us (CPU)')" "$sim_msgs" "$f_cpu"
fi

if [[ $PARTS == *c* ]]; then
    SPEC="random:n=$N_C,d=4"
    echo "== (c) one full flood, $SPEC, seed $SEED: simulator vs Python/networkx"
    if [[ ! -x $OUT/venv/bin/python ]]; then
        python3 -m venv "$OUT/venv"
        "$OUT/venv/bin/pip" install --quiet networkx
    fi
    read -r sim_wall _ _ < <(RUST_LOG=info timed "$OUT/c-sim" $SIM sim $(flood_args "$SPEC"))
    origin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queries"][0]["origin"])' "$OUT/c-sim.out")
    # The very same graph, written out by the topology tool for networkx to read.
    $SIM topology gen "$SPEC" --seed "$SEED" --port-zero --out "$OUT/c-graph.json" >/dev/null
    read -r py_wall _ _ < <(timed "$OUT/c-py" "$OUT/venv/bin/python" scripts/flood_networkx.py \
        "$OUT/c-graph.json" "$origin" 255)
    echo "simulator: wall ${sim_wall}s, messages $(sum_of "$OUT/c-sim.out" messages)," \
        "peers_reached $(sum_of "$OUT/c-sim.out" peers_reached)"
    echo "networkx:  wall ${py_wall}s; $(tr '\n' ' ' <"$OUT/c-py.out")"
    bfs_s=$(sed -n 's/.*bfs_s=\([0-9.]*\).*/\1/p' "$OUT/c-py.out")
    des_s=$(sed -n 's/.*des_s=\([0-9.]*\).*/\1/p' "$OUT/c-py.out")
    sim_flood_s=$(sed -n 's/.*run_s=\([0-9.]*\).*/\1/p' "$OUT/c-sim.time")
    python3 -c "import sys; w,f,b,d=map(float,sys.argv[1:]); print(f'simulator whole process {w:.2f}s (its flood {f:.3f}s); networkx BFS flood {b:.2f}s, networkx event-driven flood {d:.2f}s; speed-up of the simulated flood over the Python event-driven one: {d / f:.0f}x, whole simulator process vs it: {d / w:.1f}x')" \
        "$sim_wall" "$sim_flood_s" "$bfs_s" "$des_s"
fi

if [[ -e $OUT/mismatch ]]; then
    echo "bench-sim: the programs did not run the same floods (see the ERROR lines above)" >&2
    exit 1
fi
