"""Scale benchmark: the full segmentation of 1,000,000 rows x 30 numeric columns.

Reference: a bare scikit-learn k-means sweep (k=2-10, n_init=1) on the same float64 matrix,
measured in the same process. Prints wall time and peak memory of both, and the ratios
engine / bare. Targets (issue 18): time ratio <= 1.0, memory ratio <= 1.0; the printout says
whether each is met. The machine is shared: repeat the run and read the median ratio.

Peak memory is the process's resident high-water mark above the resident size at the start
of each phase (Linux: the mark is reset through /proc/self/clear_refs between phases).

    python benchmarks/scale.py --rows 1000000 --cols 30
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Phase:
    """Wall time and resident-memory peak (above the start) of a block of work."""

    def __enter__(self):
        gc.collect()
        self.resettable = reset_peak()
        self.rss0 = _status("VmRSS")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.peak = _status("VmHWM") - self.rss0
        return False


TIME_TARGET = 1.0
MEMORY_TARGET = 1.0


def _met(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "missed"


def make_table(rows: int, cols: int, seed: int) -> pd.DataFrame:
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(rows, cols, centers=6, cluster_std=2.0, random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(cols)])
    df.insert(0, "customer_id", np.arange(rows))
    return df


def bare_sweep(X: np.ndarray, seed: int) -> None:
    from sklearn.cluster import KMeans

    for k in range(2, 11):
        KMeans(k, n_init=1, random_state=seed).fit(X)


def main(argv=None) -> int:
    from copilot.segmentation.analysis.pipeline import run_segmentation

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    df = make_table(args.rows, args.cols, args.seed)
    matrix_mb = args.rows * args.cols * 8 / 1e6
    print(f"table: {args.rows:,} rows x {args.cols} numeric columns "
          f"(float64 matrix {matrix_mb:,.0f} MB)", flush=True)

    with Phase() as bare:
        X = df.drop(columns="customer_id").to_numpy(dtype=np.float64)
        bare_sweep(X, args.seed)
        del X
    print(f"bare k-means sweep (k=2-10, n_init=1): {bare.seconds:6.1f} s, "
          f"peak +{bare.peak / 1e6:,.0f} MB", flush=True)

    stages: dict[str, float] = {}
    with Phase() as engine:
        run = run_segmentation(df)
        stages = run.analysis.seconds
        k = run.analysis.choice.k
        algorithm = run.analysis.choice.algorithm
        del run
    print(f"engine full segmentation:              {engine.seconds:6.1f} s, "
          f"peak +{engine.peak / 1e6:,.0f} MB  (chose {algorithm}, k={k})")
    print("  stages: " + ", ".join(f"{name} {s:.1f}s" for name, s in stages.items()))
    time_ratio = engine.seconds / bare.seconds
    memory_ratio = engine.peak / max(bare.peak, 1)
    print(f"ratios engine/bare: time {time_ratio:.2f} (target <= {TIME_TARGET}: "
          f"{_met(time_ratio, TIME_TARGET)}), peak memory {memory_ratio:.2f} "
          f"(target <= {MEMORY_TARGET}: {_met(memory_ratio, MEMORY_TARGET)})")
    if not (bare.resettable and engine.resettable):
        print("note: the peak could not be reset between phases; memory figures are upper bounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
