"""Quality benchmark: does the engine find the planted segments, and how does the usual recipe do?

For each table from ``fixtures/customers.py`` (3-7 planted segments, unequal sizes down to ~5%,
noise columns, 5-10% missing values, 1% wild outliers, lognormal spend and usage, categoricals),
both methods are told nothing about k:

- engine:   ``run_segmentation`` with default settings;
- baseline: numeric columns (ID and outcomes removed for it), median imputation,
            StandardScaler, k-means (n_init=10) for k=2-10, best silhouette (10k-row sample).

It prints, per table and in total: the true k, each method's k, and each method's adjusted Rand
index against the planted segments. Seeds start at 1000 by default: the engine's rules were
designed on seeds 0-9, so these tables are ones it was not tuned on.

    python benchmarks/quality.py --tables 20 --max-rows 200000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.customers import make_customers


def baseline(frame, numeric: list[str], seed: int) -> tuple[int, np.ndarray]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    X = frame[numeric].fillna(frame[numeric].median()).to_numpy(dtype=float)
    X = StandardScaler().fit_transform(X)
    best = (-2.0, 2, np.zeros(len(X), dtype=int))
    for k in range(2, 11):
        labels = KMeans(k, n_init=10, random_state=seed).fit_predict(X)
        if len(np.unique(labels)) < 2:
            continue
        score = silhouette_score(X, labels, sample_size=min(10_000, len(X)), random_state=seed)
        if score > best[0]:
            best = (score, k, labels)
    return best[1], best[2]


def table_sizes(n_tables: int, min_rows: int, max_rows: int, rng) -> list[int]:
    # Log-uniform sizes: as many small tables as large ones.
    return [int(round(x, -1)) for x in
            np.exp(rng.uniform(np.log(min_rows), np.log(max_rows), n_tables))]


def main(argv=None) -> int:
    from sklearn.metrics import adjusted_rand_score

    from copilot.segmentation.pipeline import run_segmentation

    p = argparse.ArgumentParser(description="Engine vs the usual recipe on planted segments.")
    p.add_argument("--tables", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--min-rows", type=int, default=300)
    p.add_argument("--max-rows", type=int, default=200_000)
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args(argv)

    rng = np.random.default_rng(args.first_seed)
    sizes = table_sizes(args.tables, args.min_rows, args.max_rows, rng)
    print(f"{'seed':>5} {'rows':>7} {'true k':>6} | {'engine k':>8} {'ARI':>6} {'secs':>6} |"
          f" {'baseline k':>10} {'ARI':>6} {'secs':>6}")
    results = []
    for i, n in enumerate(sizes):
        seed = args.first_seed + i
        table = make_customers(n, seed=seed)
        t0 = time.perf_counter()
        run = run_segmentation(table.frame)
        t_engine = time.perf_counter() - t0
        ari_engine = adjusted_rand_score(table.labels, run.labels)
        k_engine = run.analysis.choice.k
        row = dict(seed=seed, n=n, true_k=table.n_segments, k=k_engine, ari=ari_engine,
                   secs=t_engine)
        line = (f"{seed:>5} {n:>7} {table.n_segments:>6} | {k_engine:>8} {ari_engine:>6.3f} "
                f"{t_engine:>6.1f} |")
        if not args.no_baseline:
            t0 = time.perf_counter()
            k_base, labels = baseline(table.frame, list(table.informative + table.noise), seed)
            t_base = time.perf_counter() - t0
            row.update(base_k=k_base, base_ari=adjusted_rand_score(table.labels, labels))
            line += f" {k_base:>10} {row['base_ari']:>6.3f} {t_base:>6.1f}"
        print(line, flush=True)
        results.append(row)

    def summary(prefix: str, k_key: str, ari_key: str) -> str:
        hits = sum(r[k_key] == r["true_k"] for r in results)
        aris = [r[ari_key] for r in results]
        k2 = sum(r[k_key] == 2 for r in results)
        return (f"{prefix}: true k found in {hits}/{len(results)} tables "
                f"({hits / len(results):.0%}); picked k=2 in {k2}; ARI median "
                f"{np.median(aris):.3f}, quartiles {np.quantile(aris, 0.25):.3f}-"
                f"{np.quantile(aris, 0.75):.3f}, min {np.min(aris):.3f}")

    print()
    print(summary("engine  ", "k", "ari"))
    if not args.no_baseline:
        print(summary("baseline", "base_k", "base_ari"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
