#!/usr/bin/env python3
"""Prints `make bench`'s table from target/bench/results.jsonl, with the ratios to
the floor (limit-probe) and to the Node peer, and checks issue 10's targets."""

import json
import sys

POINTS = {
    "fanout": "1 000 viewers × 100/s",
    "wide": "10 000 viewers × 5/s",
    "firehose": "1 000 viewers × 1 000/s",
    "idle": "10 000 idle viewers",
}


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {(r["point"], r["server"]): r for r in rows}
    head = (
        "| load | server | streaming | deliveries/s | p50 ms | p99 ms | p99.9 ms | p99 1st/2nd half ms "
        "| server µs/delivery | RSS KB/conn | storm max ms | loadgen CPU | µs vs floor | p99 vs floor | µs vs Node |"
    )
    print(head)
    print("|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|")
    for r in rows:
        floor = by.get((r["point"], "limit-probe"), {})
        node = by.get((r["point"], "node-sse"), {})
        us = r.get("server_cpu_us_per_delivery")
        print(
            f"| {POINTS.get(r['point'], r['point'])} | {r['server']} | {r['streaming']}/{r['connections']} "
            f"| {r['deliveries_per_s']:,.0f} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['p999_ms'])} "
            f"| {fmt(r['p99_first_half_ms'])} / {fmt(r['p99_second_half_ms'])} | {fmt(us, 2)} "
            f"| {fmt(r.get('server_rss_per_connection_kb'))} | {fmt(r['storm_max_ms'], 0)} "
            f"| {r['loadgen_cpu_share'] * 100:.0f} % "
            f"| {fmt(ratio(us, floor.get('server_cpu_us_per_delivery')), 2)} "
            f"| {fmt(ratio(r['p99_ms'], floor.get('p99_ms')), 2)} "
            f"| {fmt(ratio(us, node.get('server_cpu_us_per_delivery')), 2)} |"
        )

    checks = []

    def check(name, ok, detail):
        checks.append((name, ok, detail))

    for point in ("fanout", "wide"):
        t, f = by.get((point, "tickertape")), by.get((point, "limit-probe"))
        if t and f:
            cpu = ratio(t["server_cpu_us_per_delivery"], f["server_cpu_us_per_delivery"])
            p99 = ratio(t["p99_ms"], f["p99_ms"])
            check(
                f"1. {POINTS[point]}: CPU and p99 within 15 % of the floor",
                cpu is not None and p99 is not None and cpu <= 1.15 and p99 <= 1.15,
                f"CPU ×{fmt(cpu, 2)}, p99 ×{fmt(p99, 2)}",
            )
    t = by.get(("firehose", "tickertape"))
    if t:
        check(
            "2. 1 000 × 1 000/s: p99 ≤ 500 ms, not growing",
            t["p99_ms"] <= 500 and t["p99_second_half_ms"] <= max(1.5 * t["p99_first_half_ms"], 100),
            f"p99 {fmt(t['p99_ms'])} ms (halves {fmt(t['p99_first_half_ms'])} / {fmt(t['p99_second_half_ms'])})",
        )
        n = by.get(("firehose", "node-sse"))
        if n:
            r = ratio(t["server_cpu_us_per_delivery"], n["server_cpu_us_per_delivery"])
            check("3. 1 000 × 1 000/s: CPU per delivery ≤ 1/10 of Node's", r is not None and r <= 0.1, f"×{fmt(r, 3)}")
    t = by.get(("idle", "tickertape"))
    if t:
        kb = t.get("server_rss_per_connection_kb")
        check("4. ≤ 8 KB per idle connection", kb is not None and kb * 1024 / 1000 <= 8, f"{fmt(kb)} KiB")
    t = by.get(("wide", "tickertape"))
    if t:
        check(
            "5. 10 000 connecting at once all stream within 3 s",
            t["streaming"] == t["connections"] and t["storm_max_ms"] <= 3000,
            f"{t['streaming']}/{t['connections']} in {fmt(t['storm_max_ms'], 0)} ms",
        )
    for r in rows:
        server = r.get("server_deliveries")
        if server is not None and r["deliveries"]:
            print(
                f"{r['label']}: {r['deliveries']:,} deliveries counted by the generator, "
                f"{server:,} by the server (×{server / r['deliveries']:.3f})"
            )
    saturated = [r for r in rows if r["loadgen_cpu_share"] > 0.9]
    if saturated:
        print("\nwarning: the load generator was near one full core in:", ", ".join(r["label"] for r in saturated))
    if checks:
        print()
        for name, ok, detail in checks:
            print(f"{'met ' if ok else 'MISS'}  {name}: {detail}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.jsonl")
