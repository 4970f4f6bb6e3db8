"""Routing benchmark: does the embedded model route free-text chat messages to the right action?

Loads and segments the bundled demo table (no writing), then routes a fixed set of messages
that the code's own patterns do NOT catch (so every one reaches the model's schema-constrained
intent) and prints, per message, the expected and routed action and the time, then the
accuracy. Messages are phrased the way a PM types, not the way the prompt lists the actions.

    python benchmarks/routing.py [--provider local]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (message, expected action, expected argument or None)
CASES = (
    ("we need to cut cancellations among people on monthly plans", "set_goal", None),
    ("I'd rather have four groups", "choose_k", ("k", 4)),
    ("the plan column shouldn't drive the grouping", "set_roles", ("exclude", ["plan"])),
    ("can you call segment 1 the Bargain Hunters", "rename_segment", ("segment", 1)),
    ("how sure are we that churn differs between them?", "validate_outcomes", None),
    ("what should we build for each of these groups", "draft_strategy", None),
    ("any data problems I should know about?", "quality_report", None),
    ("tell me more about segment 2", "profile_segments", ("segment", 2)),
    ("what columns does this file have", "describe_data", None),
    ("save the write-up so I can share it with my team", "export_memo", None),
    ("which group spends the most per order?", "answer_question", None),
    ("try again with fewer, between 2 and 4", "sweep", None),
)


def main() -> int:
    from copilot.agent.router import route_llm, route_pattern
    from copilot.agent.session import Session
    from copilot.cli import demo_data_path
    from copilot.llm.local_model import stderr_progress
    from copilot.llm.providers import resolve_settings
    from copilot.llm.writing import open_client
    from copilot.segmentation.pipeline import SegmentSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="local")
    args = parser.parse_args()
    settings = resolve_settings({"provider": args.provider})
    session = Session(tempfile.mkdtemp(), settings=SegmentSettings(seed=0), llm=settings)
    session.load(demo_data_path())
    session.set_goal("Reduce churn among paying customers")  # the usual state once segmented
    session.segment()
    client = open_client(settings, progress=stderr_progress("Preparing the embedded model"))
    right = 0
    start_all = time.perf_counter()
    for message, action, arg in CASES:
        assert route_pattern(message, session) is None, f"a pattern catches {message!r}"
        start = time.perf_counter()
        routed = route_llm(message, session, client)
        seconds = time.perf_counter() - start
        got = routed.tool if routed else "(no valid intent)"
        ok = got == action and (arg is None or (routed and routed.args.get(arg[0]) == arg[1]))
        right += bool(ok)
        print(f"{'ok ' if ok else 'NO '} {seconds:5.1f}s  {action:18} <- {got:18} "
              f"{routed.args if routed else ''}  | {message}")
    total = time.perf_counter() - start_all
    print(f"\n{right}/{len(CASES)} routed right, {total:.0f} s in all "
          f"({total / len(CASES):.1f} s per message), {client.calls} model calls")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
