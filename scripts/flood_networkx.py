#!/usr/bin/env python3
"""The flood a student would write: networkx graph, Python sets, one BFS wave per hop.

Baseline for scripts/bench-sim.sh (issue 4, scale benchmark (c)). It reads the same
graph the simulator ran (a topology config `.json` as `gnutella topology gen` writes it,
peers numbered in file order, or a SNAP edge list, `FROM TO` per line, `#` comments),
floods one query from ORIGIN with TTL hops under Gnutella's rules (a peer forwards the
first copy to every neighbour but the one it came from; later copies are duplicates)
and prints messages, duplicates, peers reached and the time the flood took.

Two versions of the flood, both timed:
  bfs  the shortest correct program: one set, one list per wave (a lower bound for Python);
  des  what the simulator does, the way a student writes it: a heapq event queue with a
       10 ms link latency, a dict of per-peer state (seen GUIDs, reverse routes), a message
       dict per copy with TTL and hops decremented per hop.

Usage: flood_networkx.py GRAPH ORIGIN TTL
"""

import heapq
import itertools
import json
import sys
import time
import uuid

import networkx as nx


def load(path):
    graph = nx.Graph()
    if path.endswith(".json"):
        with open(path) as f:
            config = json.load(f)
        index = {peer["id"]: i for i, peer in enumerate(config["peers"])}
        graph.add_nodes_from(range(len(index)))
        for i, peer in enumerate(config["peers"]):
            for other in peer.get("neighbours", []):
                if index[other] != i:
                    graph.add_edge(i, index[other])
        for link in config.get("links", []):
            a, b = (index[x] for x in link["between"])
            if a != b:
                graph.add_edge(a, b)
        return graph
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            a, b = line.split()[:2]
            if a != b:
                graph.add_edge(int(a), int(b))
    return graph


def flood(graph, origin, ttl):
    seen = {origin}
    frontier = [(origin, None)]
    messages = 0
    duplicates = 0
    for _ in range(ttl):
        next_frontier = []
        for node, sender in frontier:
            for neighbour in graph.neighbors(node):
                if neighbour == sender:
                    continue
                messages += 1
                if neighbour in seen:
                    duplicates += 1
                    continue
                seen.add(neighbour)
                next_frontier.append((neighbour, node))
        if not next_frontier:
            break
        frontier = next_frontier
    return messages, duplicates, len(seen) - 1


def flood_des(graph, origin, ttl, latency_ms=10.0):
    peers = {node: {"seen": set(), "routes": {}} for node in graph.nodes}
    queue = []
    order = itertools.count()
    stats = {"messages": 0, "duplicates": 0, "reached": set()}

    def send(now, sender, msg):
        for neighbour in graph.neighbors(sender):
            if neighbour == msg.get("from"):
                continue
            stats["messages"] += 1
            copy = dict(msg)
            copy["from"] = sender
            heapq.heappush(queue, (now + latency_ms, next(order), neighbour, copy))

    guid = uuid.UUID(int=origin).hex
    peers[origin]["seen"].add(guid)
    send(0.0, origin, {"guid": guid, "ttl": ttl, "hops": 0, "from": None})
    while queue:
        now, _, node, msg = heapq.heappop(queue)
        peer = peers[node]
        if msg["guid"] in peer["seen"]:
            stats["duplicates"] += 1
            continue
        peer["seen"].add(msg["guid"])
        peer["routes"][msg["guid"]] = msg["from"]
        stats["reached"].add(node)
        forward = dict(msg, ttl=msg["ttl"] - 1, hops=msg["hops"] + 1)
        if forward["ttl"] > 0:
            send(now, node, forward)
    return stats["messages"], stats["duplicates"], len(stats["reached"])


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, origin, ttl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started = time.perf_counter()
    graph = load(path)
    loaded = time.perf_counter()
    messages, duplicates, reached = flood(graph, origin, ttl)
    bfs_done = time.perf_counter()
    des = flood_des(graph, origin, ttl)
    des_done = time.perf_counter()
    print(f"nodes={graph.number_of_nodes()} links={graph.number_of_edges()}")
    print(f"bfs: messages={messages} duplicates={duplicates} peers_reached={reached}")
    print(f"des: messages={des[0]} duplicates={des[1]} peers_reached={des[2]}")
    print(
        f"load_s={loaded - started:.3f} bfs_s={bfs_done - loaded:.3f} "
        f"des_s={des_done - bfs_done:.3f}"
    )


if __name__ == "__main__":
    main()
