#!/usr/bin/env python3
"""Runs a command and writes the CPU time (user + system) its process tree used, as JSON.

    scripts/cpu-of-run.py OUT.json [--mark TEXT] -- COMMAND ARGS...

The command's stdout is passed through. With --mark, the tree's CPU is also sampled (from
/proc, threads and child processes included) when a line containing TEXT first appears,
so a benchmark can leave out a setup phase: {"total_cpu_s": ..., "mark_cpu_s": ...}.
The total comes from wait4, so it counts every descendant the command waited for.
Used by scripts/bench-live.sh (the workload's CPU after "overlay up") and for the
simulator's side of the same comparison.
"""
import json
import os
import subprocess
import sys


def tree_cpu(pid):
    """user+sys seconds of `pid` and its live descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime (the last two: children already reaped)
            total += sum(int(f) for f in fields[11:15]) / tick
            for t in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(k) for k in open(f"/proc/{p}/task/{t}/children").read().split())
        except (OSError, IndexError, ValueError):
            pass  # a process that ended meanwhile
    return total


def main():
    args = sys.argv[1:]
    if len(args) < 3 or "--" not in args:
        sys.exit(__doc__)
    out, mark = args[0], None
    opts, command = args[1 : args.index("--")], args[args.index("--") + 1 :]
    if opts[:1] == ["--mark"] and len(opts) == 2:
        mark = opts[1]
    elif opts:
        sys.exit(__doc__)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    at_mark = None
    for line in proc.stdout:
        if mark is not None and at_mark is None and mark in line:
            at_mark = tree_cpu(proc.pid)
        sys.stdout.write(line)
        sys.stdout.flush()
    _, status, usage = os.wait4(proc.pid, 0)
    result = {"total_cpu_s": usage.ru_utime + usage.ru_stime}
    if mark is not None:
        result["mark_cpu_s"] = at_mark
    with open(out, "w") as f:
        json.dump(result, f)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
