"""Writing benchmark: the embedded model names, narrates and plans the Telco segments.

Runs the engine on ``../shared/datasets/telco_churn`` (customerID as ID, Churn as outcome),
then the full writing pass on the in-process embedded model, and prints:

- the seconds of each stage, and when the last name was on screen (from the analysis's end);
- how many pieces passed on the first try, after re-asks, or fell back to a labelled draft;
- how many answers each check refused (numbers, directions, name meaning, wishes, ...);
- the words themselves: names, stances, narratives, the k advice, the ranking and the plans.

These are the figures quoted in the README.

    python benchmarks/writing.py [--goal "Reduce churn"] [--no-strategy] [--data FILE --id COL]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TELCO = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "telco_churn" / (
    "WA_Fn-UseC_-Telco-Customer-Churn.csv")
GOAL = "Find customer segments that help us reduce churn; we can run at most 5 campaigns."

# Which check refused an answer, read from the problem sentence each check writes.
CHECKS = (
    ("numbers", r"does not match any figure|is not a ratio you were given"),
    ("figure bound to the wrong trait", r"is given as .*put each figure with what it measures"),
    ("name meaning", r'^The name ".*" (says "|claims|makes|hides)'),
    ("name form", r"generic label|contains digits|already used|has \d+ words|longer than|"
                  r"says only the stance|name is empty|Title Case|is one word|says nothing about|"
                  r"runs words together|repeats"),
    ("k outside the range", r"outside the preferred range"),
    ("directions", r"contradicts the figures: .* so do not call it"),
    ("stance words", r"contradicts the figures: .* so these customers are not"),
    ("outcome as wish", r"writes an outcome as a wish|reads as a taste"),
    ("comparisons", r"is false for|ICL does not measure|higher ICL is worse"),
    ("superlatives / ratios", r"is false: this segment ranks|is at [\d.]+ times the average"),
    ("plan specific", r"could apply to any segment|only restates the initiative"),
    ("promised result", r"promises its result"),
    ("flat fit row", r"every initiative got fit"),
    ("sentences", r"sentences; write"),
    ("schema / JSON", r"^Field |JSON|cut off|empty"),
)


def check_of(problem: str) -> str:
    return next((name for name, pattern in CHECKS if re.search(pattern, problem)), "other")


def main() -> int:
    from copilot.llm.local_model import stderr_progress
    from copilot.llm.providers import resolve_settings
    from copilot.llm.writing import open_client, write_all
    from copilot.segmentation.data.load import load_table
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    from copilot.segmentation.analysis.stance import segment_stances

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goal", default=GOAL)
    parser.add_argument("--no-strategy", action="store_true")
    parser.add_argument("--provider", default="local")
    parser.add_argument("--data", type=Path, default=TELCO)
    parser.add_argument("--id", default="customerID")
    parser.add_argument("--outcome", action="append", default=None)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"dataset not found: {args.data}")
        return 1
    table = load_table(args.data)
    start = time.perf_counter()
    outcomes = tuple(args.outcome) if args.outcome else (("Churn",) if args.data == TELCO else None)
    run = run_segmentation(table.frame, SegmentSettings(id_column=args.id, outcomes=outcomes))
    analysis = run.analysis
    print(f"engine: k={analysis.choice.k} ({analysis.choice.algorithm}) in "
          f"{time.perf_counter() - start:.1f} s")
    settings = resolve_settings({"provider": args.provider})
    named_at: list[float] = []
    # The clock starts when the analysis ends, as a user's does: loading the model counts.
    t0 = time.perf_counter()
    client = open_client(settings, progress=stderr_progress("model"))

    def event(message: str) -> None:
        elapsed = time.perf_counter() - t0
        if re.match(r"Segment -?\d+ is named", message):
            named_at.append(elapsed)
        print(f"  [{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    client.on_event = event
    writing = write_all(analysis, client, goal=None if args.no_strategy else args.goal)
    total = time.perf_counter() - t0
    stances = segment_stances(analysis)

    print(f"\nSECONDS: whole pass {total:.0f} s; stages {writing.seconds}; "
          f"all names on screen after {named_at[-1] if named_at else float('nan'):.0f} s; "
          f"{writing.calls} calls")
    log = client.log
    if log:
        tokens_in = sum(r["prompt_tokens"] or 0 for r in log)
        tokens_out = sum(r["completion_tokens"] or 0 for r in log)
        print(f"  per call: median {sorted(r['seconds'] for r in log)[len(log) // 2]:.1f} s; "
              f"{tokens_out} tokens written, {tokens_in} prompt tokens (most reused from cache)")
    pieces = Counter()
    pieces.update(f"names {n.author.status}" for n in writing.narratives)
    pieces.update(f"narratives {n.story_author.status}" for n in writing.narratives)
    pieces.update([f"k advice {writing.recommendation.author.status}"])
    if writing.strategy:
        pieces.update(f"fit rows {a.status}" for a in writing.strategy.rating_authors)
        pieces.update(f"plans {p.author.status}" for p in writing.strategy.plans)
    print("PIECES: " + "; ".join(f"{k} {v}" for k, v in sorted(pieces.items())))
    for r in log:
        print(f"  call {r['what']} #{r['attempt']}: {r['seconds']} s, {r['prompt_tokens']} in, "
              f"{r['completion_tokens']} out{' REFUSED' if r['problems'] else ''}: "
              f"{r['answer'][:300]}", file=sys.stderr)
        for problem in r["problems"][:3]:
            print(f"      problem: {problem[:200]}", file=sys.stderr)
    refused = Counter(check_of(p) for r in log for p in r["problems"])
    answers = sum(1 for r in log if r["problems"])
    print(f"REFUSED answers: {answers} of {len(log)}; by check: "
          + (", ".join(f"{k} {v}" for k, v in refused.most_common()) or "none"))

    print("\nSEGMENTS")
    for n in writing.narratives:
        s = stances.of(n.segment)
        print(f"  {n.segment}: {n.name}  [{s.label if s else '-'}; name {n.author.status}, "
              f"narrative {n.story_author.status}]")
        print(f"     {n.narrative}")
    rec = writing.recommendation
    print(f"\nK ADVICE: k={rec.k} ({rec.algorithm}) [{rec.author.status}]: {rec.reason}")
    if writing.strategy:
        st = writing.strategy
        print(f"\nSTRATEGY ({st.initiatives_source}; cap {st.campaign_cap}): {st.value_basis}")
        for o in st.opportunities[:6]:
            print(f"  {o.rank}. {o.name} x {o.initiative}: fit {o.fit}, score {o.score}")
        if st.portfolio_note:
            print(f"  note: {st.portfolio_note}")
        for p in st.plans:
            print(f"  plan {p.name} x {p.initiative} [{p.author.status}]")
            for line in (*p.actions, *p.kpis, *p.risks, p.experiment.hypothesis):
                print(f"     - {line}")
    for notice in writing.notices:
        print(f"notice: {notice}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
