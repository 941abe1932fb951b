#!/usr/bin/env python3
"""Prints where the heap was at its peak, from a dhat-heap.json.

The second argument is the number of streams that were open (the load
generator's `streaming`).

    scripts/heap_report.py target/heap/dhat-heap.json 10000

Each line is one allocation site (its first frames in this workspace or in the
crates it calls, past the allocator's own): bytes and blocks live at the
heap's peak (dhat's t-gmax), and those bytes per stream.
"""
import json
import sys
from collections import defaultdict

# Frames in these files are the allocator's and the standard library's.
SKIP = ("dhat-", "alloc/", "core/", "std/", "hashbrown-", "src/raw_vec", "server/src/main.rs")
# Files of this workspace, as dhat names them.
OURS = tuple(f"src/{d}/" for d in ("delivery", "hub", "http", "intake", "config")) + ("server/src/", "app/src/")


def strip_generics(name):
    """`new<tokio::…<…>>` as `new`."""
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def frame(text):
    """`(function, file:line)` of one of dhat's frames, `0x…: function (file:line:col)`."""
    body = text.split(": ", 1)[-1]
    if " (" not in body:
        return body, ""
    function, place = body.rsplit(" (", 1)
    return strip_generics(function), place.rstrip(")").rsplit(":", 1)[0]


def site(frames, table):
    """The first frame past the allocator, and the first in this workspace."""
    named = [frame(table[i]) for i in frames]
    named = [(f, p) for f, p in named if not p.startswith(SKIP)]
    if not named:
        return "(allocator)"
    first = f"{named[0][0]} ({named[0][1]})"
    ours = next((f"{f} ({p})" for f, p in named if p.startswith(OURS)), None)
    return first if ours in (None, first) else f"{first} ← {ours}"


def main():
    path, streams = sys.argv[1], int(sys.argv[2])
    with open(path) as f:
        profile = json.load(f)
    table = profile["ftbl"]
    sites = defaultdict(lambda: [0, 0])
    for pp in profile["pps"]:
        key = site(pp["fs"], table)
        sites[key][0] += pp["gb"]
        sites[key][1] += pp["gbk"]
    total = sum(b for b, _ in sites.values())
    print(f"heap at its peak: {total / 1024:,.0f} KiB in {sum(k for _, k in sites.values()):,} blocks, "
          f"{total / streams:,.0f} B per stream ({streams:,} streams)")
    print("the largest sites at the peak (bytes, blocks, bytes per stream):")
    for key, (bytes_, blocks) in sorted(sites.items(), key=lambda kv: -kv[1][0])[:20]:
        if bytes_ == 0:
            break
        print(f"  {bytes_ / 1024:>9,.0f} KiB {blocks:>8,} {bytes_ / streams:>7,.0f} B  {key}")
    # The sites with about one block per stream or more, but not the connection's
    # task (which ends when its stream is handed to a writer): what a stream
    # keeps while it is open.
    kept = [(k, b, n) for k, (b, n) in sites.items() if n >= streams * 0.9 and "serve_connection" not in k]
    print(f"kept by every open stream (sites with ≥ 1 block per stream): "
          f"{sum(b for _, b, _ in kept) / streams:,.0f} B per stream")


if __name__ == "__main__":
    main()
