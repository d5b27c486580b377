"""Pooled CONNECT setup latency statistics for bench/run.sh.

Reads the sample files `ferry_connect_bench setup --dump FILE` appends to
("established_us firstbyte_us" per tunnel) and prints one key=value line.
Percentiles are nearest-rank.
"""
import math
import os
import sys


def pct(values, p):
    if not values:
        return 0.0
    return values[min(len(values), max(1, math.ceil(p * len(values)))) - 1]


def main(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [tuple(map(float, line.split())) for line in f if line.strip()]
    out = [f"count={len(rows)}"]
    for i, name in ((0, "established"), (1, "firstbyte")):
        v = sorted(r[i] for r in rows)
        mean = sum(v) / len(v) if v else 0.0
        out += [f"{name}_p50_us={pct(v, .5):.0f}", f"{name}_p99_us={pct(v, .99):.0f}",
                f"{name}_mean_us={mean:.0f}", f"{name}_max_us={(v[-1] if v else 0):.0f}"]
    print(" ".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
