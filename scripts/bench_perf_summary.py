#!/usr/bin/env python3
"""Prints the performance table of scripts/bench-perf.sh as Markdown: for
each figure and each case (a Sori binary with and without history, Redis,
NATS), the median of the repetitions with min-max, then the issue's targets
against the medians."""

import glob
import json
import os
import statistics
import sys

OUT = sys.argv[1]
CASES = ["before", "before-nohistory", "after", "after-nohistory", "redis", "nats"]


def runs(name, case):
    found = []
    for path in sorted(glob.glob(os.path.join(OUT, f"{name}-{case}-[0-9]*.json"))):
        text = open(path).read()
        if "{" not in text:
            continue
        try:
            found.append(json.loads(text[text.index("{"):])["runs"][0])
        except (ValueError, KeyError, IndexError):
            pass
    return found


def pick(run, key):
    value = run
    for part in key.split("."):
        if value is None:
            return None
        value = value.get(part)
    return value


def values(name, case, key, scale=1.0):
    out = []
    for run in runs(name, case):
        v = pick(run, key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(v * scale)
    return out


def med(name, case, key, scale=1.0):
    vs = values(name, case, key, scale)
    return statistics.median(vs) if vs else None


def cell(vs, fmt):
    if not vs:
        return "–"
    m = fmt.format(statistics.median(vs))
    if len(vs) == 1:
        return m
    return f"{m} ({fmt.format(min(vs))}–{fmt.format(max(vs))})"


ROWS = [
    ("CPU-s per M deliveries, 100 receivers, 3.2 M/s offered", "cpu100", "cpu_s_per_million", 1, "{:.3f}"),
    ("  its p99, ms", "cpu100", "latency.p99_ms", 1, "{:.1f}"),
    ("CPU-s per M deliveries, 1,000 receivers, 1.6 M/s offered", "cpu1000", "cpu_s_per_million", 1, "{:.3f}"),
    ("  its p99, ms", "cpu1000", "latency.p99_ms", 1, "{:.1f}"),
    ("CPU-s per M deliveries, 1,000 receivers, 3.2 M/s offered", "cpu1000x2", "cpu_s_per_million", 1, "{:.3f}"),
    ("  its p99, ms", "cpu1000x2", "latency.p99_ms", 1, "{:.1f}"),
    ("highest rate with p99 < 50 ms, 1,000 receivers, M/s", "peak1000", "peak_deliveries_per_s", 1e-6, "{:.2f}"),
    ("p50 at 100 receivers, 100 k/s, ms", "lowload", "latency.p50_ms", 1, "{:.2f}"),
    ("broadcast to 5,000: last receipt, ms", "broadcast", "last_ms", 1, "{:.1f}"),
    ("RSS per idle session at 19,000, KiB", "idle19000", "rss_per_session", 1 / 1024, "{:.2f}"),
    ("RSS before connecting, MB", "idle19000", "rss_before", 1e-6, "{:.1f}"),
    ("RSS while connected, MB", "idle19000", "rss_connected", 1e-6, "{:.1f}"),
    ("RSS 1 s after all reset, MB", "idle19000", "rss_after_leave_1s", 1e-6, "{:.1f}"),
    ("highest RSS while they leave, MB", "idle19000", "rss_leave_max", 1e-6, "{:.1f}"),
    ("RSS 10 s after, MB", "idle19000", "rss_after_leave_end", 1e-6, "{:.1f}"),
    ("s until within 20% of before", "idle19000", "settle_s", 1, "{:.1f}"),
    ("Logout: RSS while connected, MB", "logout19000", "rss_connected", 1e-6, "{:.1f}"),
    ("Logout: highest RSS while they leave, MB", "logout19000", "rss_leave_max", 1e-6, "{:.1f}"),
    ("Logout: RSS 10 s after, MB", "logout19000", "rss_after_leave_end", 1e-6, "{:.1f}"),
    ("Logout: s until within 20% of before", "logout19000", "settle_s", 1, "{:.1f}"),
]

present = [c for c in CASES if glob.glob(os.path.join(OUT, f"*-{c}-[0-9]*.json"))]
print("| | " + " | ".join(present) + " |")
print("|---|" + "---:|" * len(present))
for label, name, key, scale, fmt in ROWS:
    cells = [cell(values(name, c, key, scale), fmt) for c in present]
    if all(c == "–" for c in cells):
        continue
    print(f"| {label} | " + " | ".join(cells) + " |")

print()
print("Targets (medians; 'after' is Sori with its defaults, history on):")


def check(label, ok, detail):
    state = "n/a" if ok is None else ("met" if ok else "NOT met")
    print(f"- {label}: {detail} -> {state}")


def majority(flags):
    return sum(flags) * 2 > len(flags)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


for name, what in [("cpu100", "100 receivers, 3.2 M/s"), ("cpu1000", "1,000 receivers, 1.6 M/s"),
                   ("cpu1000x2", "1,000 receivers, 3.2 M/s")]:
    r = ratio(med(name, "after", "cpu_s_per_million"), med(name, "redis", "cpu_s_per_million"))
    check(f"CPU per delivery <= 0.6x Redis, {what}", None if r is None else r <= 0.6,
          "n/a" if r is None else f"{r:.2f}x")
r = ratio(med("peak1000", "after", "peak_deliveries_per_s"), med("peak1000", "redis", "peak_deliveries_per_s"))
check("peak rate at 1,000 receivers >= 2x Redis", None if r is None else r >= 2.0,
      "n/a" if r is None else f"{r:.2f}x")
a, b = med("lowload", "after", "latency.p50_ms"), med("lowload", "redis", "latency.p50_ms")
check("low-load p50 within 0.5 ms of Redis", None if a is None or b is None else a - b <= 0.5,
      "n/a" if a is None or b is None else f"{a:.2f} vs {b:.2f} ms")
r = ratio(med("cpu100", "after", "cpu_s_per_million"), med("cpu100", "after-nohistory", "cpu_s_per_million"))
check("history costs <= 20% CPU per delivery at 100 receivers", None if r is None else r <= 1.2,
      "n/a" if r is None else f"{r:.2f}x of --history=false")
r = ratio(med("broadcast", "after", "last_ms"), med("broadcast", "after-nohistory", "last_ms"))
check("5,000 broadcast last receipt within 10% of --history=false", None if r is None else r <= 1.1,
      "n/a" if r is None else f"{r:.2f}x")
v = med("idle19000", "after", "rss_per_session", 1 / 1024)
check("RSS per idle session <= 1 KiB at 19,000", None if v is None else v <= 1.0,
      "n/a" if v is None else f"{v:.2f} KiB")
for name, how in [("idle19000", "reset"), ("logout19000", "Logout")]:
    rs = runs(name, "after")
    if not rs:
        continue
    back = [r.get("returned_to_baseline") for r in rs]
    settle = [r.get("settle_s") for r in rs]
    below = [r.get("never_above_connected_peak") for r in rs]
    # The targets are medians of the repetitions: a repetition-by-repetition
    # yes or no is met in the median when most repetitions say yes.
    settled = [b is True and s is not None and s <= 10 for b, s in zip(back, settle)]
    check(f"after 19,000 {how}: within 20% of baseline within 10 s", majority(settled),
          f"{sum(settled)} of {len(settled)}; settle_s {settle}")
    under = [b is True for b in below]
    check(f"after 19,000 {how}: never above the connected peak", majority(under),
          f"{sum(under)} of {len(under)}; {below}")
