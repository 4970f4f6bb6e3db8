"""What the chat shows of the session's results: the sweep, the profiles, the names and the
strategy as text. The tools return these and the question answers quote them, so they live
below both (tools imports answers; neither imports the other's texts in a circle)."""

from __future__ import annotations

from copilot.agent.session import Session
from copilot.core import InputError, figure, percent
from copilot.segmentation import ALGORITHM_NAMES


def segment_names(session: Session) -> dict[int, str]:
    """Names from the writing (the user's included), else "Segment N"."""
    return session.segment_names()


def sweep_text(session: Session) -> str:
    a = session.analysis
    c = a.choice
    lines = [f"{c.k} segments with {ALGORITHM_NAMES.get(c.algorithm, c.algorithm)}. {c.reason}"]
    for cand in c.shortlist[1:4]:
        lines.append(f"- alternative: {cand.why}")
    lines.append("Sizes: " + ", ".join(f"{s.segment}: {s.n:,} ({percent(s.share)})"
                                       for s in a.sizes))
    return "\n".join(lines)


def profile_text(session: Session, segment: int | None = None) -> str:
    a = session.analysis
    names = segment_names(session)
    rules = {s.segment: s.rules for s in a.rules.segments}
    lines = []
    for p in a.profiles:
        if segment is not None and p.segment != segment:
            continue
        lines.append(f"{p.segment}. {names.get(p.segment, f'Segment {p.segment}')}: "
                     f"{p.size:,} customers ({percent(p.share)})")
        lines += [f"   - {t.phrase}" for t in p.top_features[:4]]
        lines += [f"   rule: {r.text}" for r in rules.get(p.segment, ())[:1]]
        for v in a.validation:
            s = next((s for s in v.segments if s.segment == p.segment), None)
            if s is not None and s.value is not None:
                lines.append(f"   {v.name}: {figure(v.kind, s.value)} "
                             f"[{figure(v.kind, s.ci_low)} to {figure(v.kind, s.ci_high)}]")
    if not lines:
        ids = ", ".join(str(p.segment) for p in a.profiles)
        raise InputError(f"There is no segment {segment}; the segments are {ids}.")
    return "\n".join(lines)


def names_text(session: Session) -> str:
    shares = {p.segment: p.share for p in session.analysis.profiles}
    lines = []
    for n in session.writing.narratives:
        draft = " (deterministic draft)" if n.author.status == "fallback" else ""
        lines.append(f"{n.segment}. {n.name} ({percent(shares.get(n.segment, 0.0))}){draft}: "
                     f"{n.narrative}")
    return "\n".join(lines)


def strategy_text(session: Session) -> str:
    s = session.writing.strategy
    lines = [f"Strategy for: {s.goal}"]
    for o in s.opportunities[:3]:
        lines.append(f"{o.rank}. {o.initiative} for {o.name}: opportunity {o.score:.3f} "
                     f"(share {percent(o.share)}, value {o.value_index:.2f}, fit {o.fit}/5)")
    for plan in s.plans:
        e = plan.experiment
        lines.append(f"Plan for {plan.name}: {plan.initiative}; first action: {plan.actions[0].rstrip('.')}; "
                     f"holdout {e.control_n:,} of {e.treatment_n + e.control_n:,}.")
    return "\n".join(lines)
