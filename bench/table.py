"""The Markdown table bench/run.py prints: a row a figure, a column a target, and each target's
value beside direct's (the excess over it, or the ratio to it)."""

ROWS = [  # label, key, how targets compare with direct
    ("added latency p50, non-stream, c=1 (ms)", "lat_p50", "added"),
    ("added latency p99, non-stream, c=1 (ms)", "lat_p99", "added"),
    ("requests/s, non-stream, c=64", "rps", "ratio"),
    ("failed requests, c=64 (non-2xx + socket errors)", "c64_failed", None),
    ("CPU ms per request, c=64 (process tree)", "cpu_per_req", "ratio"),
    ("stream TTFB added p50, c=1 (ms)", "ttfb_p50", "added"),
    ("relay streams/s, 50 chunks, c=32", "relay_sps", "ratio"),
    ("relay chunks/s, c=32", "relay_cps", "ratio"),
    ("relay failed or unfinished streams, c=32", "relay_failed", None),
    ("relay: busiest worker's share of the workers' CPU (%)", "relay_busiest", None),
    ("slow streams/s, 50 chunks 20 ms apart, c=500", "slow_sps", "ratio"),
    ("slow streams completed / failed / unfinished at the end", "slow_done", None),
    ("slow TTFB p99 (ms)", "slow_ttfb_p99", None),
    ("peak RSS, c=500 slow (MB)", "slow_rss", None),
    ("held streams (30 chunks 1 s apart, opened over 20 s): completed / failed / unfinished",
     "held_done", None),
    ("held streams: TTFB p99 (ms)", "held_ttfb_p99", None),
    ("peak RSS, held streams (MB)", "held_rss", None),
    ("CPU used by other processes meanwhile (cores; should be ~0)", "others", None),
]


def number(value):
    if value is None:
        return "n/a"
    if isinstance(value, (str, int)):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def cell(value, direct, how):
    if how is None or value is None or direct is None:
        return number(value)
    if how == "added":
        return "+" + number(value - direct) if value >= direct else number(value - direct)
    if not direct:
        return number(value)
    ratio = value / direct
    return f"{number(value)} ({ratio:.0f}×)" if ratio >= 10 else f"{number(value)} ({ratio:.2g}×)"


def render(results, d):
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, how in ROWS:
        direct = results["direct"][key]
        cells = [number(direct)] + [cell(results[n][key], direct, how) for n in names[1:]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(f"\nPhases (s): latency {d.latency}, c=64 {d.c64}, TTFB {d.ttfb}, relay {d.relay}, "
                 f"slow {d.slow}; {d.held} held streams. 'added' rows: direct shows its own value, targets the excess over "
                 f"it; (N×) is the ratio to direct.")
    return "\n".join(lines)
