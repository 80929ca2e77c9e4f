#!/usr/bin/env python3
"""Turns the raw JSON of scripts/bench.sh into the Markdown tables of
docs/BENCHMARKS.md: the median of the repetitions, with min-max after it.
Replaces everything between the `<!-- bench:begin -->` and
`<!-- bench:end -->` markers."""

import glob
import json
import os
import statistics
import sys

raw, doc = sys.argv[1], sys.argv[2]
TARGETS = ["sori", "nats", "redis"]


def load(name):
    runs = []
    # name-<repetition>.json only: "storm-100" must not pick up "storm-100-history".
    for path in sorted(glob.glob(os.path.join(raw, f"{name}-[0-9]*.json"))):
        with open(path) as f:
            text = f.read()
        # Anything before the report (a server's log line) is not JSON.
        runs.append(json.loads(text[text.index("{"):])["runs"])
    return runs


def cell(values, fmt):
    held_none = bool(values) and all(v is None for v in values)
    values = [v for v in values if v is not None]
    if not values:
        return "none held" if held_none and fmt is num else "n/a"
    med = fmt(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt(min(values))}–{fmt(max(values))})"


def num(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e4:
        return f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def f2(v):
    return f"{v:.2f}"


def f3(v):
    return f"{v:.3f}"


def table(title, reps, rows):
    """rows: (label, getter(run) -> value or None, fmt)."""
    by_target = {t: [] for t in TARGETS}
    for runs in reps:
        for run in runs:
            by_target[run["target"]].append(run)
    present = [t for t in TARGETS if by_target[t]]
    out = [f"**{title}** ({len(reps)} run{'s' if len(reps) != 1 else ''}; median (min–max))", ""]
    out.append("| | " + " | ".join(present) + " |")
    out.append("|---|" + "---:|" * len(present))
    for label, get, fmt in rows:
        out.append(f"| {label} | " + " | ".join(cell([get(r) for r in by_target[t]], fmt) for t in present) + " |")
    return "\n".join(out) + "\n"


storm_rows = [
    ("deliveries/s", lambda r: r["deliveries_per_s"], num),
    ("lost", lambda r: r["lost"], num),
    ("p50 ms", lambda r: r["latency"]["p50_ms"], f2),
    ("p90 ms", lambda r: r["latency"]["p90_ms"], f2),
    ("p99 ms", lambda r: r["latency"]["p99_ms"], f2),
    ("p99.9 ms", lambda r: r["latency"]["p999_ms"], f2),
    ("max ms", lambda r: r["latency"]["max_ms"], f2),
    ("server CPU s / M deliveries", lambda r: r["cpu_s_per_million"], f3),
]

sections = []
for name, title in [
    ("storm-100", "storm, 100 receivers, 5,000 publishes/s (500k deliveries/s offered), 64 B, 5 s; Sori with history off, like pub/sub"),
    ("storm-1000", "storm, 1,000 receivers, 500 publishes/s (500k deliveries/s offered), 64 B, 5 s; Sori with history off"),
    ("storm-100-history", "storm, 100 receivers, as above, Sori with history on (every message committed to SQLite before its ack)"),
]:
    reps = load(name)
    if reps:
        sections.append(table(title, reps, storm_rows))

for name, title in [
    ("peak-100", "storm peak, 100 receivers (p99 < 50 ms, no loss; rate ×1.6 per 3 s step from 5,000 publishes/s)"),
    ("peak-1000", "storm peak, 1,000 receivers (same rule, from 100 publishes/s)"),
]:
    reps = load(name)
    if reps:
        rows = [
            ("peak deliveries/s", lambda r: r["peak_deliveries_per_s"], num),
            ("steps run", lambda r: len(r["steps"]), num),
            ("first step: deliveries/s", lambda r: r["steps"][0]["deliveries_per_s"], num),
            ("first step: p99 ms", lambda r: r["steps"][0]["latency"]["p99_ms"], f2),
            ("CPU s / M deliveries at the peak step",
             lambda r: next((s["cpu_s_per_million"] for s in r["steps"]
                             if r["peak_deliveries_per_s"] is not None
                             and s["deliveries_per_s"] == r["peak_deliveries_per_s"]), None), f3),
        ]
        sections.append(table(title, reps, rows))

reps = load("broadcast-5000")
if reps:
    sections.append(table("broadcast-once, 5,000 receivers", reps, [
        ("received", lambda r: r["received"], num),
        ("first receipt ms", lambda r: r["first_ms"], f2),
        ("median receipt ms", lambda r: r["latency"]["p50_ms"], f2),
        ("last receipt ms", lambda r: r["last_ms"], f2),
        ("server fan-out ms (server metric)", lambda r: r["server_fanout_ms"], f3),
        ("setup s (connect + subscribe 5,000)", lambda r: r["setup_s"], f2),
    ]))

for name, title in [
    ("connections-5000", "connections, 5,000 idle subscribed sessions"),
    ("connections-19000", "connections, 19,000 idle subscribed sessions (one server process; clients in 3 worker processes)"),
]:
  reps = load(name)
  if reps:
    sections.append(table(title, reps, [
        ("ready", lambda r: r["ready"], num),
        ("sessions/s", lambda r: r["connect_rate"], num),
        ("server RSS per session KiB", lambda r: None if r["rss_per_session"] is None else r["rss_per_session"] / 1024, f2),
    ]))

body = "\n".join(sections)
with open(doc) as f:
    text = f.read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{begin}\n{body}{end}{tail}"
else:
    text += f"\n{begin}\n{body}{end}\n"
with open(doc, "w") as f:
    f.write(text)
