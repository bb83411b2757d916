#!/usr/bin/env bash
# Download benchmark: a 1 GiB file over loopback, our downloader against curl + nginx.
#
# Method (everything in one run, same file, same disk, same page cache):
#   1. a 1 GiB file of random bytes in a temp folder (kept in the page cache);
#   2. nginx (installed with apt-get if missing, sendfile on) serves the folder on a loopback
#      port, started from a config written into the temp folder;
#   3. our HTTP server (examples/http_bench.rs `serve`) shares the same folder on another port;
#   4. RUNS times each, alternating: `curl -o FILE` from nginx, and our downloader
#      (`http_bench get`, which streams to a .part file, verifies the SHA-1, renames) from our
#      server, under /usr/bin/time -v for its peak RSS; also curl from our server, to show
#      the server alone;
#   5. the best run of each (least disturbed by the other core's load) and the ratio.
# Output files are deleted after every run so each one writes 1 GiB afresh.
#
# Usage: scripts/bench-download.sh [SIZE_MIB (default 1024)] [RUNS (default 3)]
set -euo pipefail

SIZE_MIB=${1:-1024}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Source and output files live in RAM (/dev/shm) when it has room, so the figure measures
# the transfer, not the disk; set BENCH_DIR to put them elsewhere (e.g. on disk).
need_kib=$((SIZE_MIB * 1024 * 3))
if [ -z "${BENCH_DIR:-}" ]; then
    BENCH_DIR=/tmp
    shm_free=$(df -k --output=avail /dev/shm 2>/dev/null | tail -1 || echo 0)
    [ "${shm_free:-0}" -gt "$need_kib" ] && BENCH_DIR=/dev/shm
fi
WORK=$(mktemp -d "$BENCH_DIR/bench-download.XXXXXX")
NGINX_PID=""
OURS_PID=""

cleanup() {
    [ -n "$OURS_PID" ] && kill "$OURS_PID" 2>/dev/null || true
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null) \
        || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null)
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x /usr/bin/time ] || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null)

echo "building the benchmark helper (release)..." >&2
BENCH=$("$ROOT/scripts/release-bin.sh" --example http_bench)

mkdir -p "$WORK/share" "$WORK/out" "$WORK/nginx"
FILE=bench.bin
echo "writing a ${SIZE_MIB} MiB file of random bytes..." >&2
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/share/$FILE"
BYTES=$(stat -c %s "$WORK/share/$FILE")

NGINX_PORT=$(free_port)
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat > "$WORK/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/share;
    }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!

OURS_PORT=$(free_port)
echo "our server hashes the file before serving..." >&2
"$BENCH" serve "$WORK/share/$FILE" "127.0.0.1:$OURS_PORT" > "$WORK/ours.out" &
OURS_PID=$!
for _ in $(seq 1 600); do
    grep -q LISTENING "$WORK/ours.out" 2>/dev/null && break
    sleep 0.1
done
read -r _ OURS_ADDR URN _ < "$WORK/ours.out"
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" -m 1 && break || sleep 0.1
done

# Warm the page cache for the source file.
cat "$WORK/share/$FILE" > /dev/null

LOAD=$(cut -d" " -f1-3 /proc/loadavg)
: > "$WORK/runs.tsv"
rate() { python3 -c "print(f'{$1/($3-$2)/1e6:.1f}')"; }
cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$1"; }
for run in $(seq 1 "$RUNS"); do
    # curl from nginx
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$WORK/time-curl.txt" curl -s -o "$WORK/out/curl.bin" "http://127.0.0.1:$NGINX_PORT/$FILE"
    t1=$(date +%s.%N)
    [ "$(stat -c %s "$WORK/out/curl.bin")" = "$BYTES" ] || { echo "curl got a short file" >&2; exit 1; }
    rm -f "$WORK/out/curl.bin"
    curl_rate=$(rate "$BYTES" "$t0" "$t1")
    curl_cpu=$(cpu "$WORK/time-curl.txt")

    # our downloader from our server
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$WORK/time-ours.txt" "$BENCH" get "$OURS_ADDR" "$URN" "$BYTES" "$FILE" "$WORK/out" > "$WORK/get.out"
    t1=$(date +%s.%N)
    cmp -s "$WORK/share/$FILE" "$WORK/out/$FILE" || { echo "our download differs" >&2; exit 1; }
    rm -f "$WORK/out/$FILE"
    ours_rate=$(rate "$BYTES" "$t0" "$t1")
    ours_cpu=$(cpu "$WORK/time-ours.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time-ours.txt")

    # curl from our server (the server alone)
    t0=$(date +%s.%N)
    curl -s -o "$WORK/out/curl2.bin" "http://$OURS_ADDR/uri-res/N2R?$URN"
    t1=$(date +%s.%N)
    [ "$(stat -c %s "$WORK/out/curl2.bin")" = "$BYTES" ] || { echo "curl got a short file from us" >&2; exit 1; }
    rm -f "$WORK/out/curl2.bin"
    curl_ours_rate=$(rate "$BYTES" "$t0" "$t1")

    echo "run $run: curl<-nginx $curl_rate MB/s (client cpu ${curl_cpu}s) | ours<-ours $ours_rate MB/s (client cpu ${ours_cpu}s, peak RSS ${rss} KiB) | curl<-ours $curl_ours_rate MB/s"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$curl_rate" "$ours_rate" "$curl_ours_rate" "$rss" "$curl_cpu" "$ours_cpu" >> "$WORK/runs.tsv"
done
server_rss=$(awk '/VmHWM/ {print $2}' "/proc/$OURS_PID/status" 2>/dev/null || echo "?")

echo
echo "file: $BYTES bytes over 127.0.0.1, files under $BENCH_DIR, $RUNS runs, wall time of the whole client process"
echo "load average before the runs: $LOAD (other work on this machine's $(nproc) cores disturbs single runs: compare medians)"
python3 - "$WORK/runs.tsv" "$server_rss" "$BYTES" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
col = lambda i: [r[i] for r in rows]
med, best = statistics.median, max
c, o, co = col(0), col(1), col(2)
print(f"curl <- nginx (sendfile):       median {med(c):7.1f} MB/s  best {best(c):7.1f} MB/s  client cpu {med(col(4)):.2f} s")
print(f"our downloader <- our server:   median {med(o):7.1f} MB/s  best {best(o):7.1f} MB/s  client cpu {med(col(5)):.2f} s (incl. SHA-1)")
print(f"curl <- our server:             median {med(co):7.1f} MB/s  best {best(co):7.1f} MB/s")
print(f"ratio ours/curl: median {med(o)/med(c):.2f}x, best {best(o)/best(c):.2f}x (goal >= 0.8x)")
print(f"peak RSS: our downloader {int(max(col(3)))} KiB, our server {sys.argv[2]} KiB, for a {int(sys.argv[3])>>20} MiB file")
PY
