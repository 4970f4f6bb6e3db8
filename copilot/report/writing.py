"""Plain-text rendering of what the LLM layer wrote, each piece labelled with its author."""

from __future__ import annotations

from copilot.core import percent
from copilot.llm import Authorship, Writing
from copilot.report.summary import _wrap
from copilot.segmentation import SegmentAnalysis, segment_stances


def byline(author: Authorship) -> str:
    if author.status == "fallback":
        return "[deterministic draft]"
    tries = "" if author.attempts == 1 else f", after {author.attempts - 1} re-ask(s)"
    return f"[{author.writer}{tries}]"


def render_writing(w: Writing, analysis: SegmentAnalysis) -> str:
    lines = ["", "RECOMMENDATION " + byline(w.recommendation.author)]
    rec = w.recommendation
    lines += _wrap(f"k={rec.k} ({rec.algorithm}). {rec.reason}", "  ")
    if (rec.algorithm, rec.k) != (rec.engine_algorithm, rec.engine_k):
        lines += _wrap(
            f"The segments below use the engine's pick (k={rec.engine_k}); rerun with "
            f"--k {rec.k} --algorithm {rec.algorithm} to use the recommendation.", "  ")
    lines += ["", "SEGMENT NAMES"]
    shares = {p.segment: p.share for p in analysis.profiles}
    stances = segment_stances(analysis)
    for n in w.narratives:
        stance = stances.of(n.segment)
        said = f", {stance.label}" if stance is not None and stance.label else ""
        lines.append(f"  {n.segment}. {n.name} ({percent(shares.get(n.segment, 0), 0)}{said}) "
                     f"{byline(n.author)}")
        # The narrative's own author, when it is not the name's.
        story = byline(n.narrative_author) if n.narrative_author is not None else ""
        own = f" {story}" if story and story != byline(n.author) else ""
        lines += _wrap(n.narrative + own, "     ")
    if w.strategy is not None:
        s = w.strategy
        lines += ["", f"STRATEGY for: {s.goal}"]
        lines += _wrap(f"Initiatives ({s.initiatives_source}); opportunity = share x value x fit/5,"
                       f" value = {s.value_basis}.", "  ")
        lines.append("  Top opportunities:")
        for o in s.opportunities[:5]:
            lines.append(f"   {o.rank}. {o.name} x {o.initiative}: {o.score:.3f} "
                         f"(share {percent(o.share, 0)}, value {o.value_index:.2f}, fit {o.fit}/5)")
        if s.portfolio_note:
            lines += _wrap(s.portfolio_note, "  ")
        if s.campaign_cap is not None:
            lines += _wrap(f"The goal allows at most {s.campaign_cap} campaign(s); "
                           f"{len(s.plans)} plan(s) drafted.", "  ")
        for plan in s.plans:
            lines.append(f"  Plan for {plan.name}: {plan.initiative} {byline(plan.author)}")
            for a in plan.actions:
                lines += _wrap(f"- {a}", "    ")
            lines += _wrap("KPIs: " + "; ".join(plan.kpis), "    ")
            lines += _wrap("Risks: " + "; ".join(plan.risks), "    ")
            e = plan.experiment
            mde = (f", detects a change of {e.detectable_effect_pts} points from {e.baseline_pct}%"
                   if e.detectable_effect_pts is not None else "")
            lines += _wrap(f"Experiment: {e.hypothesis} Primary metric: {e.primary_metric}. "
                           f"{e.treatment_n:,} treated, {e.control_n:,} held out "
                           f"({percent(e.holdout_share, 0)}){mde}.", "    ")
    footer = f"Written by {w.provider}" + (f"/{w.model}" if w.model else "")
    footer += f" in {sum(w.seconds.values()):.0f} s, {w.calls} call(s); prompts: " + ", ".join(
        f"{k} v{v}" for k, v in w.prompt_versions.items())
    lines += ["", *_wrap(footer, "")]
    for notice in w.notices:
        lines += _wrap(f"Notice: {notice}", "")
    return "\n".join(lines) + "\n"
