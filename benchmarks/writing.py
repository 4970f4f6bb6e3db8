"""Writing benchmark: the embedded model names, narrates and plans the Telco segments.

Runs the engine on ``../shared/datasets/telco_churn`` (customerID as ID, Churn as outcome),
then the full writing pass on the in-process embedded model, and prints: how many pieces
passed on the first try, after re-asks, or fell back to the deterministic draft, and the time
of each stage. These are the figures quoted in the README.

    python benchmarks/writing.py [--goal "Reduce churn"] [--no-strategy]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TELCO = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "telco_churn" / (
    "WA_Fn-UseC_-Telco-Customer-Churn.csv")


def main() -> int:
    from copilot.llm.local_model import stderr_progress
    from copilot.llm.providers import resolve_settings
    from copilot.llm.writing import open_client, write_all
    from copilot.segmentation.load import load_table
    from copilot.segmentation.pipeline import SegmentSettings, run_segmentation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goal", default="Reduce churn among paying customers")
    parser.add_argument("--no-strategy", action="store_true")
    parser.add_argument("--provider", default="local")
    args = parser.parse_args()
    if not TELCO.exists():
        print(f"dataset not found: {TELCO}")
        return 1
    table = load_table(TELCO)
    start = time.perf_counter()
    run = run_segmentation(table.frame, SegmentSettings(id_column="customerID", outcomes=("Churn",)))
    print(f"engine: k={run.analysis.choice.k} ({run.analysis.choice.algorithm}) in "
          f"{time.perf_counter() - start:.1f} s")
    settings = resolve_settings({"provider": args.provider})
    start = time.perf_counter()
    t0 = time.perf_counter()
    client = open_client(settings, on_event=lambda m: print(f"  [{time.perf_counter() - t0:6.1f}s] {m}",
                                                            file=sys.stderr, flush=True),
                         progress=stderr_progress("model"))
    print(f"client ready in {time.perf_counter() - start:.1f} s ({client.label})")
    writing = write_all(run.analysis, client, goal=None if args.no_strategy else args.goal)
    names = Counter(n.author.status for n in writing.narratives)
    total = len(writing.narratives)
    print(f"names and narratives ({total} segments): "
          + ", ".join(f"{s} {names.get(s, 0)}/{total} ({names.get(s, 0) / total:.0%})"
                      for s in ("first try", "after re-ask", "fallback")))
    for n in writing.narratives:
        print(f"  {n.segment}: {n.name} [{n.author.status}, {n.author.attempts} call(s)]")
        print(f"     {n.narrative}")
    rec = writing.recommendation
    print(f"k recommendation: k={rec.k} ({rec.algorithm}) [{rec.author.status}]: {rec.reason}")
    if writing.strategy:
        s = writing.strategy
        ratings = Counter(a.status for a in s.rating_authors)
        plans = Counter(p.author.status for p in s.plans)
        print(f"fit ratings: {dict(ratings)}; plans: {dict(plans)}")
        for p in s.plans:
            print(f"  plan {p.name} x {p.initiative} [{p.author.status}]: {p.actions}")
    print(f"seconds: {writing.seconds} (calls: {writing.calls})")
    for notice in writing.notices:
        print(f"notice: {notice}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
