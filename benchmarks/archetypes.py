"""Naming benchmark: planted, nameable archetypes, named by the embedded model.

Tables from ``fixtures/archetypes.py`` (SaaS, retail and telco exports whose planted segments
have a known meaning: deal hunters, lapsed one-timers, month-to-month fiber churners, ...) go
through the engine and the writers' names and narratives. Each found segment is matched to the
archetype that holds most of its customers; segments no archetype holds half of are "mixed"
and not scored. Per segment:

- **contradicting name**: the name uses a word the archetype rules out ("Loyal" for churners;
  a denied word, "Low Discount", is not a claim);
- **on-point name**: the name uses a word that fits it ("Fiber", "Churners", "Deal");
- **outcome as wish**: the narrative says customers want, seek, value or prefer an outcome
  (a broad detector of this script's own, not the product's check);
- **false comparison**: a superlative, "twice as" or option comparison the table contradicts
  (the product's own checks, run on the final text, drafts included).

    python benchmarks/archetypes.py [--seeds 101 102] [--rows 3000] [--provider local]

The seeds are held out: the checks and prompts were never tuned on them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# A subject, a verb of wanting, then an outcome word within the clause: "they seek a lower
# revenue", "customers value lower churn". Broader in verbs than the product's own check, and
# written apart from it, so the benchmark does not grade the product by its own rule.
_WISH = re.compile(
    r"\b(?:they|customers|who|users|clients|buyers|shoppers|accounts|members|households)\s+"
    r"(?:\w+ly\s+|also\s+|tend to\s+)?"
    r"(?:seek|want|prefer|desire|crave|value|wish|aim|strive|hope|look for|care about|"
    r"appreciate|prioriti[sz]e|enjoy|like|love|expect|aspire)s?\b"
    r"[^.;]{0,60}\b(?:churn\w*|revenue\w*|retention|lifetime value|cancel\w*|attrition)",
    re.IGNORECASE)


def stems(word: str) -> set[str]:
    w = word.lower()
    out = {w}
    for suffix in ("ers", "ing", "ies", "es", "s", "ed", "er"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            out.add(w[: -len(suffix)])
    return out


def name_stems(name: str) -> set[str]:
    """Stems of a name's words, hyphenated compounds also joined ("One-Time" -> onetime)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    words = re.findall(r"[A-Za-z]+", spaced)
    words += [w.replace("-", "") for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)+", spaced)]
    return set().union(*(stems(w) for w in words)) if words else set()


# A word after one of these is denied, not claimed: "Low Discount" does not call big-ticket
# buyers deal hunters, "No Internet" does not call voice-only customers data users.
_NEGATED = re.compile(r"\b(?:low|no|non|without|few|little|rare)[\s-]+([A-Za-z]+)", re.I)


def hits(name: str, vocabulary) -> list[str]:
    """The words of ``vocabulary`` the name claims (a negated word is not a claim)."""
    mine = name_stems(_NEGATED.sub(" ", name))
    return [w for w in vocabulary if stems(w) & mine]


def main() -> int:
    from copilot.llm.context import WritingContext
    from copilot.llm.narrative_checks import check_multipliers, check_superlatives
    from copilot.llm.option_claims import check_option_claims
    from copilot.llm.naming import choose_names, write_narratives
    from copilot.llm.providers import resolve_settings
    from copilot.llm.recommend import option_label, recommend_k
    from copilot.llm.writing import open_client
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    from fixtures.archetypes import DOMAINS, make_archetype_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--provider", default="local")
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS))
    args = parser.parse_args()

    client = open_client(resolve_settings({"provider": args.provider}))
    totals = Counter()
    started = time.perf_counter()
    for domain in args.domains:
        for seed in args.seeds:
            table = make_archetype_table(domain, args.rows, seed=seed)
            run = run_segmentation(table.frame, SegmentSettings(
                seed=0, id_column=table.id_column, outcomes=table.outcomes))
            analysis = run.analysis
            context = WritingContext(analysis)
            t0 = time.perf_counter()
            calls = client.calls
            names = choose_names(context, client)
            rec = recommend_k(analysis, client, context=context)
            narratives = write_narratives(context, client, names)
            seconds = time.perf_counter() - t0
            print(f"\n{domain} seed {seed}: {len(table.archetypes)} planted, engine k="
                  f"{analysis.choice.k}; writing {seconds:.0f} s, {client.calls - calls} calls")
            if rec.author.status != "fallback":
                wrong = check_option_claims(rec.reason, option_label(rec.algorithm, rec.k),
                                            context.options)
                totals["false comparisons"] += len(wrong)
                totals["k advice by the model"] += 1
            for n in narratives:
                rows = run.labels == n.segment
                if n.segment < 0 or not rows.any():
                    continue
                planted, counts = np.unique(table.labels[rows], return_counts=True)
                top = int(planted[counts.argmax()])
                purity = counts.max() / rows.sum()
                ev = context.evidence(n.segment)
                wish = bool(_WISH.search(n.narrative))
                false = check_superlatives(n.narrative, ev) + check_multipliers(n.narrative, ev)
                totals["narratives"] += 1
                totals["outcome as wish"] += wish
                totals["false comparisons"] += len(false)
                totals[f"names {n.author.status}"] += 1
                if purity < 0.5:
                    print(f"  {n.segment}: {n.name!r} [mixed, purity {purity:.0%}; not scored]")
                    continue
                arch = table.archetypes[top]
                bad, good = hits(n.name, arch.rules_out), hits(n.name, arch.fits)
                totals["scored"] += 1
                totals["contradicting"] += bool(bad)
                totals["on point"] += bool(good)
                if n.author.status != "fallback":
                    totals["scored by the model"] += 1
                    totals["on point by the model"] += bool(good)
                flag = ("CONTRADICTS " + ",".join(bad)) if bad else ("on point" if good else "off")
                print(f"  {n.segment}: {n.name!r} for {arch.title} ({purity:.0%}) "
                      f"[{n.author.status}] {flag}{' WISH' if wish else ''}")
                print(f"      {n.narrative}")
    from benchmarks.writing import check_of

    refused = Counter(check_of(p) for r in client.log for p in r["problems"])
    scored = max(totals["scored"], 1)
    print(f"\nSUMMARY over {len(args.domains) * len(args.seeds)} tables, "
          f"{time.perf_counter() - started:.0f} s:")
    print(f"  contradicting names: {totals['contradicting']} of {totals['scored']} (aim 0)")
    print(f"  on-point names: {totals['on point']} of {totals['scored']} "
          f"({totals['on point'] / scored:.0%}; aim 80%); by the model alone "
          f"{totals['on point by the model']} of {totals['scored by the model']}")
    print(f"  outcome-as-wish narratives: {totals['outcome as wish']} of {totals['narratives']} "
          "(aim 0)")
    print(f"  false comparisons: {totals['false comparisons']} (aim 0; in "
          f"{totals['narratives']} narratives and {totals['k advice by the model']} k advices)")
    print("  names: " + ", ".join(f"{k[6:]} {v}" for k, v in sorted(totals.items())
                                  if k.startswith("names ")))
    names_refused = [(r["answer"][:70], p[:110]) for r in client.log if "name" in r["what"]
                     for p in r["problems"][:1]]
    for answer, problem in names_refused[:25]:
        print(f"    refused {answer}: {problem}")
    print("  refused answers by check: " + (", ".join(
        f"{k} {v}" for k, v in refused.most_common()) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
