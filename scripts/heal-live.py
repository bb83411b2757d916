#!/usr/bin/env python3
"""A launched dynamic overlay heals after a mass departure (issue 9's done criterion).

Method: generate a random graph (default 1,000 peers, mean degree 4, seed 1) as a config
with port 0 everywhere, a dynamic `overlay` block (min_degree 4, max_degree 8) and one
synthetic file per peer (`k<i>x.dat`, so the words `k<i>x` match exactly one file). Launch
it over several shards with `--control 127.0.0.1:0`. Once the overlay is up:
  1. read GET /peers: the mean degree of the peers that will survive (before);
  2. run SEARCHES searches (TTL 7) between random pairs of future survivors through
     POST /search: success = at least one hit from the holder (before);
  3. kill KILL_FRACTION of the peers (chosen at random with the seed) through
     POST /peers/{id}/kill, as fast as the API answers;
  4. poll GET /peers every second for 60 s: the survivors' mean degree over time, and
     the first second it is back to >= 90 % of its value before;
  5. run the same kind of searches again between survivors (after).
Printed: one JSON object with the figures and the degree time series. Standard library
only; the launch is stopped with SIGINT at the end.

Usage: scripts/heal-live.py [--bin target/release/gnutella] [--peers 1000] [--shards 4]
                            [--kill 0.3] [--searches 40] [--seed 1]
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "target/release/gnutella"))
    p.add_argument("--peers", type=int, default=1000)
    p.add_argument("--degree", type=int, default=4)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--kill", type=float, default=0.3)
    p.add_argument("--searches", type=int, default=40)
    p.add_argument("--min-degree", type=int, default=4)
    p.add_argument("--max-degree", type=int, default=8)
    p.add_argument("--watch", type=int, default=60, help="seconds to watch after the kill")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--overlay", default="dynamic", choices=["dynamic", "static"])
    return p.parse_args()


def make_config(a, folder):
    path = os.path.join(folder, "heal.json")
    subprocess.run(
        [a.bin, "topology", "gen", f"random:n={a.peers},d={a.degree}", "--seed",
         str(a.seed), "--port-zero", "--quiet", "--out", path],
        check=True,
    )
    with open(path) as f:
        config = json.load(f)
    for i, peer in enumerate(config["peers"]):
        peer["share"] = {"files": [{"name": f"k{i}x.dat", "size": 2048}]}
    config["overlay"] = {
        "mode": a.overlay,
        "min_degree": a.min_degree,
        "max_degree": a.max_degree,
        # A generated graph may leave a peer without links: it joins through these.
        "bootstrap": ["p0", "p1", "p2"],
    }
    with open(path, "w") as f:
        json.dump(config, f)
    return path, [p["id"] for p in config["peers"]]


class Api:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def mean_degree(peers, ids):
    up = [p for p in peers if p["id"] in ids and p["up"]]
    if not up:
        return 0.0, 0
    return sum(p["degree"] for p in up) / len(up), sum(1 for p in up if p["degree"] < 1)


def searches(api, rng, survivors, n):
    ok = 0
    first_hops = []
    for _ in range(n):
        origin, holder = rng.sample(survivors, 2)
        index = int(holder[1:])
        status, record = api.call(
            "POST", "/search", {"from": origin, "words": f"k{index}x", "ttl": 7}, timeout=60
        )
        if status == 200 and record.get("hits", 0) > 0:
            ok += 1
            if record.get("first_hit_hops") is not None:
                first_hops.append(record["first_hit_hops"])
    return {
        "searches": n,
        "succeeded": ok,
        "success": ok / n if n else 0.0,
        "mean_first_hit_hops": sum(first_hops) / len(first_hops) if first_hops else None,
    }


def main():
    a = args()
    rng = random.Random(a.seed)
    folder = tempfile.mkdtemp(prefix="heal-live-")
    config, ids = make_config(a, folder)
    cmd = [a.bin, "launch", config, "--shards", str(a.shards), "--control", "127.0.0.1:0",
           "--overlay-timeout", "120"]
    launch = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, up_line = None, None
    started = time.time()
    for line in launch.stdout:
        m = re.search(r"control API on (http://\S+)", line)
        if m:
            url = m.group(1)
        if line.startswith("overlay up"):
            up_line = line.strip()
        if line.startswith("running until") or (url and up_line):
            break
    if url is None:
        print("the launch did not print its control address", file=sys.stderr)
        launch.kill()
        sys.exit(1)
    # Keep reading the launch's output (into a log) so it never blocks on a full pipe.
    log_path = os.path.join(folder, "launch.log")

    def drain():
        with open(log_path, "w") as log:
            for line in launch.stdout:
                log.write(line)
                log.flush()

    threading.Thread(target=drain, daemon=True).start()
    api = Api(url)
    while True:
        try:
            status, peers = api.call("GET", "/peers")
        except OSError as e:
            launch.kill()
            time.sleep(0.5)
            with open(log_path) as log:
                tail = log.read()[-3000:]
            sys.exit(f"the control API at {url} does not answer ({e}); the launch said:\n{tail}")
        if status == 200:
            break
        time.sleep(0.5)
    up_secs = time.time() - started
    killed = set(rng.sample(ids, int(round(a.kill * len(ids)))))
    survivors = [i for i in ids if i not in killed]
    time.sleep(2)
    _, peers = api.call("GET", "/peers")
    before, _ = mean_degree(peers, set(survivors))
    search_before = searches(api, rng, survivors, a.searches)
    _, peers = api.call("GET", "/peers")
    before_after_searches, _ = mean_degree(peers, set(survivors))
    t0 = time.time()
    for pid in sorted(killed, key=lambda s: int(s[1:])):
        status, _ = api.call("POST", f"/peers/{pid}/kill")
        if status != 200:
            print(f"kill {pid}: HTTP {status}", file=sys.stderr)
    kill_secs = time.time() - t0
    series = []
    healed_at = None
    survivor_set = set(survivors)
    for second in range(a.watch + 1):
        _, peers = api.call("GET", "/peers")
        md, isolated = mean_degree(peers, survivor_set)
        t = round(time.time() - t0, 2)
        series.append({"t_s": t, "mean_degree": round(md, 3), "isolated": isolated})
        if healed_at is None and md >= 0.9 * before:
            healed_at = t
        time.sleep(max(0.0, t0 + second + 1 - time.time()))
    search_after = searches(api, rng, survivors, a.searches)
    launch.send_signal(signal.SIGINT)
    try:
        launch.wait(timeout=60)
    except subprocess.TimeoutExpired:
        launch.kill()
    result = {
        "command": " ".join(cmd),
        "peers": a.peers,
        "shards": a.shards,
        "overlay": a.overlay,
        "min_degree": a.min_degree,
        "max_degree": a.max_degree,
        "overlay_up": up_line,
        "overlay_up_s": round(up_secs, 1),
        "killed": len(killed),
        "kill_calls_s": round(kill_secs, 2),
        "mean_degree_before": round(before, 3),
        "mean_degree_before_after_searches": round(before_after_searches, 3),
        "healed_to_90pct_at_s": healed_at,
        "mean_degree_end": series[-1]["mean_degree"],
        "search_before": search_before,
        "search_after": search_after,
        "series": series,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
