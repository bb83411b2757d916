#!/usr/bin/env bash
# Speed-up of `gnutella sim --threads` (issue 11 part 3): the same run with 1 thread and
# with THREADS threads, in one invocation, interleaved REPEAT times. Prints wall and CPU
# (user + sys) seconds and peak RSS of each, the event loop's own wall time (the part the
# threads share; generating the graph and writing the output stay on one thread), the
# wall and CPU ratios (medians), and checks that both printed the same bytes. On a
# machine shared with other work, compare the CPU figures and repeat (REPEAT=3).
#
# Usage: scripts/bench-sim-threads.sh
# Environment: SPEC (default ba:n=1000000,m=2), QUERIES (100), TTL (7), THREADS (2),
#   REPEAT (1), SEED (1), EXTRA (more sim flags), OUT (work dir).
set -euo pipefail
cd "$(dirname "$0")/.."

SPEC=${SPEC:-ba:n=1000000,m=2}
QUERIES=${QUERIES:-100}
TTL=${TTL:-7}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-1}
SEED=${SEED:-1}
EXTRA=${EXTRA:-}
OUT=${OUT:-target/bench-sim-threads}
mkdir -p "$OUT"

SIM=$(scripts/release-bin.sh)

# One run under /usr/bin/time -v: prints "wall cpu rss_mib".
timed() {
    local log=$1
    shift
    RUST_LOG=info /usr/bin/time -v "$@" 2>"$log.time" >"$log.out"
    local wall user sys rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.time" |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    user=$(sed -n 's/.*User time (seconds): //p' "$log.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$log.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.time")
    local run_s
    run_s=$(sed -n 's/.*event loop run_s=\([0-9.]*\).*/\1/p' "$log.time" | head -1)
    echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $((rss / 1024)) ${run_s:-?}"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

ARGS=(sim --gen "$SPEC" --queries "$QUERIES" --ttl "$TTL" --seed "$SEED" --json --quiet $EXTRA)
echo "== gnutella ${ARGS[*]}: --threads 1 vs --threads $THREADS, $REPEAT time(s), $(nproc) cores"
: >"$OUT/one.txt"
: >"$OUT/many.txt"
for i in $(seq "$REPEAT"); do
    read -r w c r l < <(timed "$OUT/one-$i" "$SIM" "${ARGS[@]}" --threads 1)
    echo "$w $c $r $l" >>"$OUT/one.txt"
    echo "run $i, 1 thread:  wall ${w}s  cpu ${c}s  peak ${r} MiB  event loop ${l}s"
    read -r w c r l < <(timed "$OUT/many-$i" "$SIM" "${ARGS[@]}" --threads "$THREADS")
    echo "$w $c $r $l" >>"$OUT/many.txt"
    echo "run $i, $THREADS threads: wall ${w}s  cpu ${c}s  peak ${r} MiB  event loop ${l}s  ($(grep -ho 'simulation on [^(]*' "$OUT/many-$i.time" | head -1))"
    cmp -s "$OUT/one-$i.out" "$OUT/many-$i.out" || { echo "DIFFERENT OUTPUT: $OUT/one-$i.out $OUT/many-$i.out" >&2; exit 1; }
done
w1=$(cut -d' ' -f1 "$OUT/one.txt" | median)
c1=$(cut -d' ' -f2 "$OUT/one.txt" | median)
wn=$(cut -d' ' -f1 "$OUT/many.txt" | median)
cn=$(cut -d' ' -f2 "$OUT/many.txt" | median)
awk -v w1="$w1" -v c1="$c1" -v wn="$wn" -v cn="$cn" -v t="$THREADS" 'BEGIN {
    printf "median wall: %.2fs vs %.2fs, speed-up %.2fx on %d threads\n", w1, wn, w1 / wn, t
    printf "median cpu:  %.2fs vs %.2fs, cpu ratio %.2fx (extra work of the split)\n", c1, cn, cn / c1
}'
echo "outputs identical"
