#!/usr/bin/env python3
"""How often do a scenario's 95% p50 intervals cover the population p50?

Runs `pushpull run SCENARIO --seed S --repetitions R` for many seeds, takes the population
p50 from one long run, and counts how often each interval covers it: the interval pushpull
wrote (intervals.json) and, recomputed from samples.csv, the plain and the expanded
percentile cluster bootstrap (docs/STATISTICS.md). Needs numpy and scipy:

    python3 -m venv target/study && target/study/bin/pip install numpy scipy
    cargo build --release
    target/study/bin/python scripts/coverage-study.py scenarios/quickstart.yaml --reps 3 5 10 30
"""
import argparse, csv, json, math, os, subprocess
from collections import defaultdict

import numpy as np
from scipy import stats

METRICS = ["deploy_latency", "drift_recovery"]


def load(path):
    d = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["metric"] in METRICS:
                d[(row["model"], row["metric"])][int(row["repetition"])].append(float(row["value_s"]))
    return d


def nearest_rank(v, q):
    v = np.sort(np.asarray(v))
    return v[max(1, math.ceil(q * len(v))) - 1]


def boot(reps, R, rng, B=2000):
    """Pooled nearest-rank p50 of B cluster resamples of the R repetitions."""
    vals, idx = [], []
    for r in range(R):
        x = reps.get(r, [])
        vals += x
        idx += [r] * len(x)
    vals, idx = np.array(vals), np.array(idx)
    o = np.argsort(vals, kind="stable")
    vals, idx = vals[o], idx[o]
    n_r = np.bincount(idx, minlength=R)
    W = np.array([np.bincount(rng.integers(0, R, R), minlength=R) for _ in range(B)])
    tot = W @ n_r
    cw = np.cumsum(W[:, idx], axis=1)
    out = [vals[np.searchsorted(cw[b], max(1, math.ceil(0.5 * tot[b])))] for b in range(B) if tot[b]]
    return np.array(out)


def tails(R):
    t = stats.t.ppf(0.975, R - 1)
    return {"plain": 0.025, "expanded": stats.norm.cdf(-math.sqrt(R / (R - 1)) * t)}


def run(binary, scenario, out, seed, reps):
    name = os.path.basename(scenario).rsplit(".", 1)[0]
    folder = os.path.join(out, name)
    if not os.path.exists(os.path.join(folder, "intervals.json")):
        subprocess.run([binary, "run", scenario, "--out", out, "--seed", str(seed), "--repetitions", str(reps)],
                       check=True, stdout=subprocess.DEVNULL)
    return folder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--reps", type=int, nargs="+", default=[10])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--population", type=int, default=1000, help="repetitions of the long run")
    ap.add_argument("--binary", default="target/release/pushpull")
    ap.add_argument("--work", default="target/coverage-study")
    a = ap.parse_args()
    pop_dir = run(a.binary, a.scenario, os.path.join(a.work, "population"), 7, a.population)
    pop = {k: nearest_rank([x for r in v.values() for x in r], 0.5)
           for k, v in load(os.path.join(pop_dir, "samples.csv")).items()}
    for k, v in sorted(pop.items()):
        print(f"population p50 {k[0]}/{k[1]}: {v:.3f}s")
    rng = np.random.default_rng(1)
    for R in a.reps:
        hits = defaultdict(int)
        for s in range(1, a.seeds + 1):
            folder = run(a.binary, a.scenario, os.path.join(a.work, f"r{R}-s{s}"), 1000 + s, R)
            written = json.load(open(os.path.join(folder, "intervals.json")))["metrics"]
            samples = load(os.path.join(folder, "samples.csv"))
            for (model, metric), p in pop.items():
                iv = written.get(metric, {}).get("setups", {}).get(model, {}).get("ci95_p50_s")
                if iv and iv[0] - 1e-6 <= p <= iv[1] + 1e-6:
                    hits[(model, metric, "pushpull")] += 1
                q = boot(samples[(model, metric)], R, rng)
                for method, tail in tails(R).items():
                    lo, hi = np.quantile(q, tail, method="inverted_cdf"), np.quantile(q, 1 - tail, method="inverted_cdf")
                    if lo - 1e-6 <= p <= hi + 1e-6:
                        hits[(model, metric, method)] += 1
        for (model, metric) in sorted(pop):
            row = ", ".join(f"{m} {hits[(model, metric, m)] / a.seeds:.1%}" for m in ("plain", "expanded", "pushpull"))
            print(f"R={R} {model}/{metric}: {row}")


if __name__ == "__main__":
    main()
