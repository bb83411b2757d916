#!/usr/bin/env python3
"""How fast the control API's calls take effect (`launch --control`), in each launch mode.

Method: launch a copy of topology-configs/quickstart.json with every port 0 and
`--control 127.0.0.1:0`; then ROUNDS times: kill p4 (its neighbours p1, p3, p5, p7 each
hold a link to it) and poll GET /peers until p1 and p3 show one link less; search
"jazz standards" from p0; revive p4 and poll until p4, p1 and p3 are back to full degree.
Printed: milliseconds until the kill's answer, until the degrees dropped, until the
search's answer (it waits for --quiet-ms, 300 ms, of silence), until the revive is
complete. Standard library only.

Usage: scripts/control-timings.py [BINARY (default target/debug/gnutella)] [ROUNDS (5)]
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/gnutella")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def port_zero_config(folder):
    with open(os.path.join(ROOT, "topology-configs/quickstart.json")) as f:
        config = json.load(f)
    for peer in config["peers"]:
        peer["listen"] = re.sub(r":\d+$", ":0", peer["listen"])
        share = peer.get("share", {})
        if "dir" in share:
            share["dir"] = os.path.join(ROOT, "topology-configs", share["dir"])
    path = os.path.join(folder, "quickstart-port0.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def run(config, mode):
    launch = subprocess.Popen(
        [BIN, "launch", config, "--control", "127.0.0.1:0"] + mode,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    for line in launch.stdout:
        found = re.match(r"control API on (http://\S+)", line)
        if found:
            url = found.group(1)
        if line.startswith("running until"):
            break

    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url + path, method=method, data=data)
        try:
            with urllib.request.urlopen(request) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            return json.load(error)

    def degree(peer):
        return next(p["degree"] for p in call("GET", "/peers") if p["id"] == peer)

    kill_answer, kill_seen, search, revive = [], [], [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        call("POST", "/peers/p4/kill")
        kill_answer.append(time.perf_counter() - start)
        while degree("p1") != 2 or degree("p3") != 2:
            pass
        kill_seen.append(time.perf_counter() - start)
        start = time.perf_counter()
        call("POST", "/search", {"from": "p0", "words": "jazz standards"})
        search.append(time.perf_counter() - start)
        start = time.perf_counter()
        call("POST", "/peers/p4/revive")
        while any(degree(p) != d for p, d in [("p4", 4), ("p1", 3), ("p3", 3)]):
            time.sleep(0.005)
        revive.append(time.perf_counter() - start)
    launch.terminate()
    launch.wait()

    def ms(values):
        return " ".join(f"{v * 1000:.0f}" for v in values)

    print(f"{' '.join(mode) or 'one process'}:")
    print(f"  kill answered (ms):                 {ms(kill_answer)}")
    print(f"  neighbours' degree dropped (ms):    {ms(kill_seen)}")
    print(f"  search answered (ms):               {ms(search)}")
    print(f"  revive back to full degree (ms):    {ms(revive)}")


with tempfile.TemporaryDirectory() as folder:
    config = port_zero_config(folder)
    for mode in ([], ["--shards", "2"], ["--processes"]):
        run(config, mode)
