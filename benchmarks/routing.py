"""Routing and answers benchmark: is a free-text chat message routed to the right action, and
does a question get the right answer, a goal the right scope?

Loads and segments the bundled demo table (no writing), then sends 64 messages the way a PM
types them (48 first, 16 held out), spread over questions (rankings, sizes, a segment's figures), settings (k, columns,
names, files), goals and goals that name a population (a scope). Each message goes through the
real router (code patterns first, then the model's schema-constrained intent, else the default
without a model). A message counts as right when:

- the action is the expected one (some messages accept two: "tell me about segment 2" is a
  profile or a question, both answered from the table by the same code);
- its argument is the expected one (k, the column, the segment);
- a question's answer, computed by the same code the chat uses, names the segment the
  analysis ranks first (checked here from ``analysis.json``'s own numbers);
- a goal's population is the expected column level, or no scope when it names none.

``CASES`` (48) were written before the benchmark was first run; its misses were then fixed in
the router where the fix is general (a business verb opens a goal, "who/where ... most" is a
ranking, "logs in" is logins), so they are now tuned. ``HELD_OUT`` (16) were written after
those fixes and before any run: the honest measure. Both are printed.

    python benchmarks/routing.py [--provider local|none]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Check = Callable[..., bool]


def ranked(name: str, pick: str) -> tuple[str, str]:
    """The question must name the segment with the highest (``max``) or lowest mean of
    ``name`` (an outcome or a feature; ``size`` for the sizes)."""
    return ("ranked", f"{name}:{pick}")


# (kind, message, accepted actions, check or None)
CASES: tuple[tuple[str, str, tuple[str, ...], tuple[str, str] | None], ...] = (
    # --- questions: one right answer in the table
    ("question", "who cancels the most?", ("answer_question",), ranked("churned", "max")),
    ("question", "which group brings in the least revenue?", ("answer_question",),
     ranked("revenue_12m", "min")),
    ("question", "what's the biggest segment", ("answer_question",), ranked("size", "max")),
    ("question", "smallest cluster?", ("answer_question",), ranked("size", "min")),
    ("question", "top 2 groups by monthly spend", ("answer_question",),
     ranked("monthly_spend", "max")),
    ("question", "which segment files the most support tickets", ("answer_question",),
     ranked("support_tickets_90d", "max")),
    ("question", "where is churn lowest?", ("answer_question",), ranked("churned", "min")),
    ("question", "which audience logs in least often", ("answer_question",),
     ranked("logins_7d", "min")),
    ("question", "Which segment is most likely to leave?", ("answer_question",),
     ranked("churned", "max")),
    ("question", "which segment gets the biggest discounts?", ("answer_question",),
     ranked("discount_share", "max")),
    ("question", "which customers use the API the most", ("answer_question",),
     ranked("api_calls_30d", "max")),
    ("question", "what group has the fewest seats on average?", ("answer_question",),
     ranked("seats", "min")),
    ("question", "how big is segment 1?", ("answer_question", "profile_segments"),
     ("segment", "1")),
    ("question", "what does segment 2 look like", ("answer_question", "profile_segments"),
     ("segment", "2")),
    ("question", "how many customers are in each segment?", ("answer_question",),
     ("sizes", "")),
    ("question", "why did you pick this many segments?", ("answer_question",), None),
    ("question", "are the churn differences between groups real or just noise?",
     ("validate_outcomes", "answer_question"), None),
    # --- settings
    ("setting", "let's go with 5 clusters", ("choose_k",), ("k", "5")),
    ("setting", "can we do three segments instead", ("choose_k",), ("k", "3")),
    ("setting", "split them into 6", ("choose_k",), ("k", "6")),
    ("setting", "don't use region", ("set_roles",), ("exclude", "region")),
    ("setting", "ignore the newsletter opens column", ("set_roles",),
     ("exclude", "newsletter_opens")),
    ("setting", "search between 3 and 5 segments", ("sweep",), None),
    ("setting", "rename segment 0 to Power Admins", ("rename_segment",), ("segment", "0")),
    ("setting", "segment 3 should be called Quiet Accounts", ("rename_segment",),
     ("segment", "3")),
    ("setting", "write up the memo", ("export_memo",), None),
    ("setting", "export everyone's segment to a csv", ("export_assignments",), None),
    ("setting", "is the data clean?", ("quality_report",), None),
    ("setting", "what columns are in here", ("describe_data",), None),
    ("setting", "give the segments proper names", ("name_segments",), None),
    ("setting", "what should we do for each segment?", ("draft_strategy",), None),
    # --- goals (no population: the whole table)
    ("goal", "our aim is to increase upsell to bigger plans", ("set_goal",), ("scope", "")),
    ("goal", "I need to lower cancellations next quarter", ("set_goal",), ("scope", "")),
    ("goal", "we want to grow expansion revenue", ("set_goal",), ("scope", "")),
    ("goal", "focus on getting new signups to activate", ("set_goal",), ("scope", "")),
    ("goal", "the business wants fewer customers walking away", ("set_goal",), ("scope", "")),
    ("goal", "help our highest-value customers stay", ("set_goal",), ("scope", "")),
    # --- goals that name a population, and scope commands in words
    ("scope", "reduce churn among enterprise accounts", ("set_goal",),
     ("scope", "plan=Enterprise")),
    ("scope", "focus on growing revenue from customers in APAC", ("set_goal",),
     ("scope", "region=APAC")),
    ("scope", "our goal is to cut cancellations for mobile app users", ("set_goal",),
     ("scope", "has_mobile_app=Yes")),
    ("scope", "goal: improve retention of customers from paid acquisition", ("set_goal",),
     ("scope", "acquisition_channel=Paid")),
    ("scope", "focus on upselling Basic plan customers in Europe", ("set_goal",),
     ("scope", "plan=Basic;region=Europe")),
    ("scope", "the goal is to win back LatAm customers", ("set_goal",),
     ("scope", "region=LatAm")),
    ("scope", "focus on reducing churn among customers on the moon plan", ("set_goal",),
     ("scope", "?")),
    ("scope", "segment everyone again", ("set_scope",), ("set_scope", "all")),
    ("scope", "only the North America customers please", ("set_scope",),
     ("set_scope", "region=North America")),
    ("scope", "just the enterprise accounts", ("set_scope",), ("set_scope", "plan=Enterprise")),
    ("scope", "use all customers, not just one plan", ("set_scope",), ("set_scope", "all")),
)

# Written after the first run of CASES had been read and the router fixed for its misses, and
# before any run of these: the held-out check that the fixes are general, not fitted.
HELD_OUT: tuple[tuple[str, str, tuple[str, ...], tuple[str, str] | None], ...] = (
    ("question", "who pays us the most?", ("answer_question",), ranked("revenue_12m", "max")),
    ("question", "which cohort has the lowest churn", ("answer_question",),
     ranked("churned", "min")),
    ("question", "where are storage needs highest?", ("answer_question",),
     ranked("storage_gb", "max")),
    ("question", "which segment opens the fewest newsletters?", ("answer_question",),
     ranked("newsletter_opens", "min")),
    ("question", "what is the smallest group", ("answer_question",), ranked("size", "min")),
    ("question", "tell me about segment 4", ("answer_question", "profile_segments"),
     ("segment", "4")),
    ("setting", "make it 4 clusters", ("choose_k",), ("k", "4")),
    ("setting", "stop using acquisition channel", ("set_roles",),
     ("exclude", "acquisition_channel")),
    ("setting", "what's wrong with the data?", ("quality_report", "answer_question"), None),
    ("setting", "save the segments to a file", ("export_assignments",), None),
    ("goal", "we must increase renewals this year", ("set_goal",), ("scope", "")),
    ("goal", "grow average revenue per account", ("set_goal",), ("scope", "")),
    ("scope", "improve retention among Business plan accounts", ("set_goal",),
     ("scope", "plan=Business")),
    ("scope", "increase upsell for customers in North America", ("set_goal",),
     ("scope", "region=North America")),
    ("scope", "lower churn among customers acquired through partners", ("set_goal",),
     ("scope", "acquisition_channel=Partner")),
    ("scope", "only the LatAm accounts", ("set_scope",), ("set_scope", "region=LatAm")),
)


def _scope_of(text: str, frame, skip) -> str:
    from copilot.segmentation.analysis.scope import find_scope

    found = find_scope(text, frame, skip=skip)
    if found is None:
        return ""
    if found.scope is None:
        return "?"
    return ";".join(f"{c}={','.join(lv)}" for c, lv in found.scope.conditions)


def _ranked_first(a, name: str, pick: str) -> int:
    if name == "size":
        values = {s.segment: s.n for s in a.sizes if s.segment >= 0}
    else:
        outcome = next((v for v in a.validation if v.name == name), None)
        if outcome is not None:
            values = {s.segment: s.value for s in outcome.segments
                      if s.value is not None and s.segment >= 0}
        else:
            values = {p.segment: next(f.segment_mean for f in p.features if f.name == name)
                      for p in a.profiles if p.segment >= 0}
    return (max if pick == "max" else min)(values, key=values.get)


def judge(case, routed, session, frame, skip) -> tuple[bool, str]:
    """(right, what was got) for one message."""
    import re

    from copilot.agent.answers import computed_answer
    from copilot.segmentation.analysis.scope import find_scope

    kind, message, accepted, check = case
    if routed is None or routed.tool not in accepted:
        return False, routed.tool if routed else "(no valid intent)"
    got = routed.tool
    if check is None:
        return True, got
    key, want = check
    a = session.analysis
    if key == "ranked":
        name, pick = want.split(":")
        answer = computed_answer(session, routed.args.get("question", message)) or ""
        first = re.search(r"\(segment (-?\d+)\)", answer)  # the first segment it names
        top = _ranked_first(a, name, pick)
        return bool(first) and int(first.group(1)) == top, (
            f"{got}: {answer.splitlines()[0][:70] if answer else '(no computed answer)'}"
            f" [want segment {top}]")
    if key == "segment":
        seg = routed.args.get("segment")
        if seg is None and routed.tool == "answer_question":
            answer = computed_answer(session, routed.args.get("question", message)) or ""
            ok = f"Segment {want}" in answer or f"segment {want}" in answer
            return ok, f"{got}: {answer[:60]!r}"
        return str(seg) == want, f"{got} segment={seg}"
    if key == "sizes":
        answer = computed_answer(session, message) or ""
        sizes = [s for s in a.sizes if s.segment >= 0]
        return all(f"{s.n:,} customers" in answer for s in sizes), f"{got}: sizes"
    if key == "k":
        return str(routed.args.get("k")) == want, f"{got} k={routed.args.get('k')}"
    if key == "exclude":
        return want in (routed.args.get("exclude") or []), f"{got} {routed.args}"
    if key == "scope":
        goal = routed.args.get("goal", message)
        scope = _scope_of(goal, frame, skip)
        return scope == want, f"{got} scope={scope or 'none'}"
    if key == "set_scope":
        text = routed.args.get("scope", "")
        if text == "all" or want == "all":
            return text == want, f"{got} {text}"
        found = find_scope(f"among {text}", frame)
        scope = ";".join(f"{c}={','.join(lv)}" for c, lv in found.scope.conditions) \
            if found and found.scope else "?"
        return scope == want, f"{got} scope={scope}"
    return False, got


def main() -> int:
    from copilot.agent.router import route
    from copilot.agent.session import Session
    from copilot.cli import demo_data_path
    from copilot.llm.local_model import stderr_progress
    from copilot.llm.providers import resolve_settings
    from copilot.llm.writing import open_client
    from copilot.segmentation.analysis.pipeline import SegmentSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="local", help="local (default) or none")
    args = parser.parse_args()
    settings = resolve_settings({"provider": args.provider})
    session = Session(tempfile.mkdtemp(), settings=SegmentSettings(seed=0), llm=settings)
    session.load(demo_data_path())
    session.set_goal("Reduce churn")  # the usual state once segmented
    session.segment()
    frame = session.table().frame
    a = session.analysis
    skip = ((a.id_column,) if a.id_column else ()) + tuple(a.roles.outcomes)
    client = (open_client(settings, progress=stderr_progress("Preparing the embedded model"))
              if args.provider != "none" else None)
    right: dict[str, list[bool]] = {}
    start_all = time.perf_counter()
    cases = [(c, "tuned") for c in CASES] + [(c, "held-out") for c in HELD_OUT]
    by_set: dict[str, list[bool]] = {}
    for case, which in cases:
        kind, message = case[0], case[1]
        start = time.perf_counter()
        routed = route(message, session, client)
        seconds = time.perf_counter() - start
        ok, got = judge(case, routed, session, frame, skip)
        right.setdefault(kind, []).append(ok)
        by_set.setdefault(which, []).append(ok)
        print(f"{'ok ' if ok else 'NO '} {seconds:5.1f}s {routed.how if routed else '-':8} "
              f"{which:8} {kind:9} {got[:80]:80} | {message}")
    total = time.perf_counter() - start_all
    n_right = sum(sum(v) for v in right.values())
    print()
    for kind, oks in right.items():
        print(f"  {kind:9} {sum(oks)}/{len(oks)}")
    for which, oks in by_set.items():
        print(f"  {which:9} {sum(oks)}/{len(oks)} ({sum(oks) / len(oks):.0%})")
    print(f"\n{n_right}/{len(cases)} right ({n_right / len(cases):.0%}), {total:.0f} s in all "
          f"({total / len(cases):.1f} s per message), "
          f"{client.calls if client else 0} model calls, provider {args.provider}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
