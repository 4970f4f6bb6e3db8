"""Quality benchmark: does the engine find the planted segments, and how does the usual recipe do?

Two generators, independent of each other:

- ``--generator customers`` (``fixtures/customers.py``, the one the engine was designed on): 3-7
  planted segments, unequal sizes down to ~5%, noise columns, 5-10% missing values, 1% wild
  outliers, lognormal spend and usage, categoricals;
- ``--generator planted`` (``fixtures/planted.py``, written later to test whether choosing k
  generalises): six families (clipped counts, correlated features, small integers and ordinals,
  heavy tails, unequal spreads, mostly categorical), reported per family.

Both methods are told nothing about k:

- engine:   ``run_segmentation`` with default settings;
- baseline: numeric columns (ID and outcomes removed for it), median imputation,
            StandardScaler, k-means (n_init=10) for k=2-10, best silhouette (10k-row sample).

- oracle:   k-means told the true k (standardised numeric columns and one-hot categoricals), to
            show how findable the segments are once k is known.

It prints, per table and in total (per family for ``planted``): the true k, each method's k, and
each method's adjusted Rand index against the planted segments. Seeds start at 1000 by default:
the engine's rules were designed on seeds below that (``customers``: 0-9; ``planted``: 0-99),
so these tables are ones it was not tuned on.

    python benchmarks/quality.py --tables 20 --max-rows 200000
    python benchmarks/quality.py --generator planted --tables 8 --max-rows 200000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.customers import make_customers
from fixtures.planted import FAMILIES, make_planted


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


def oracle(frame, columns: list[str], k: int, seed: int) -> np.ndarray:
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    part = frame[columns]
    num = part.select_dtypes("number")
    cat = part.select_dtypes(exclude="number")
    X = StandardScaler().fit_transform(num.fillna(num.median()).to_numpy(float))
    if cat.shape[1]:
        X = np.c_[X, pd.get_dummies(cat).to_numpy(float) * 0.7]
    return KMeans(k, n_init=10, random_state=seed).fit_predict(X)


def table_sizes(n_tables: int, min_rows: int, max_rows: int, rng) -> list[int]:
    # Log-uniform sizes: as many small tables as large ones.
    return [int(round(x, -1)) for x in
            np.exp(rng.uniform(np.log(min_rows), np.log(max_rows), n_tables))]


def main(argv=None) -> int:
    from sklearn.metrics import adjusted_rand_score

    from copilot.segmentation.analysis.pipeline import run_segmentation

    p = argparse.ArgumentParser(description="Engine vs the usual recipe on planted segments.")
    p.add_argument("--generator", choices=("customers", "planted"), default="customers")
    p.add_argument("--families", default=",".join(FAMILIES),
                   help="planted only: comma-separated families")
    p.add_argument("--tables", type=int, default=20, help="tables (per family for planted)")
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--min-rows", type=int, default=300)
    p.add_argument("--max-rows", type=int, default=200_000)
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args(argv)

    families = args.families.split(",") if args.generator == "planted" else ["customers"]
    print(f"{'family':>11} {'seed':>5} {'rows':>7} {'true k':>6} | {'engine k':>8} {'ARI':>6} "
          f"{'secs':>6} | {'oracle':>6} |{' baseline k':>11} {'ARI':>6}")
    results = []
    for family in families:
        rng = np.random.default_rng(args.first_seed)
        sizes = table_sizes(args.tables, args.min_rows, args.max_rows, rng)
        for i, n in enumerate(sizes):
            seed = args.first_seed + i
            if family == "customers":
                table = make_customers(n, seed=seed)
            else:
                table = make_planted(n, family, seed=seed)
            t0 = time.perf_counter()
            run = run_segmentation(table.frame)
            t_engine = time.perf_counter() - t0
            ari_engine = adjusted_rand_score(table.labels, run.labels)
            k_engine = run.analysis.choice.k
            columns = list(table.informative + table.noise)
            ari_oracle = adjusted_rand_score(
                table.labels, oracle(table.frame, columns, table.n_segments, seed))
            row = {"family": family, "seed": seed, "n": n, "true_k": table.n_segments,
                   "k": k_engine, "ari": ari_engine, "secs": t_engine, "oracle": ari_oracle}
            line = (f"{family:>11} {seed:>5} {n:>7} {table.n_segments:>6} | {k_engine:>8} "
                    f"{ari_engine:>6.3f} {t_engine:>6.1f} | {ari_oracle:>6.3f} |")
            if not args.no_baseline:
                numeric = [c for c in columns if table.frame[c].dtype.kind in "fiu"]
                k_base, labels = baseline(table.frame, numeric, seed)
                row.update(base_k=k_base, base_ari=adjusted_rand_score(table.labels, labels))
                line += f" {k_base:>10} {row['base_ari']:>6.3f}"
            print(line, flush=True)
            results.append(row)

    def summary(prefix: str, rows: list[dict], k_key: str, ari_key: str) -> str:
        hits = sum(r[k_key] == r["true_k"] for r in rows)
        high = sum(r[k_key] > r["true_k"] for r in rows)
        aris = [r[ari_key] for r in rows]
        return (f"{prefix}: true k found in {hits}/{len(rows)} tables ({hits / len(rows):.0%}), "
                f"too high in {high}; ARI median {np.median(aris):.3f}, quartiles "
                f"{np.quantile(aris, 0.25):.3f}-{np.quantile(aris, 0.75):.3f}, "
                f"min {np.min(aris):.3f}")

    print()
    for family in families + (["all"] if len(families) > 1 else []):
        rows = [r for r in results if family in ("all", r["family"])]
        label = f"{family:>11}"
        print(summary(f"{label} engine  ", rows, "k", "ari"))
        print(f"{label} oracle  : k-means told the true k: ARI median "
              f"{np.median([r['oracle'] for r in rows]):.3f}")
        if not args.no_baseline:
            print(summary(f"{label} baseline", rows, "base_k", "base_ari"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
