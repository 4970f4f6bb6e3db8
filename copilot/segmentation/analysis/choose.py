"""The deterministic recommendation: which algorithm and k, a shortlist of alternatives, and why.

The rule, in order:

1. Only candidates whose smallest segment holds at least ``min_share`` of customers (default 2%)
   are eligible: a smaller segment is too small to act on, and is usually a handful of outliers.
   HDBSCAN candidates that leave more than 30% of customers unassigned are not eligible.
2. With ``algorithm="auto"`` the Gaussian mixture is preferred: it models categorical columns as
   categories, scores rows with missing values on what they have, and lets columns that carry no
   segment signal fade out (see ``mixture.py``). Its k is the one with the lowest ICL (BIC plus
   the entropy of the assignments), which prefers distinct segments over a better fit.
   On planted-segment tables this found the true k far more often than the best silhouette.
3. The user's band of k (3-7 by default) is how many audiences they can serve, so the choice
   stays inside it whenever an in-band option is eligible; a better-scoring k outside the band
   is named in the reason and kept in the shortlist, never silently chosen.
4. k-means and Ward pick the k with the best silhouette; HDBSCAN's k is its own.

The shortlist holds the choice and up to four good alternatives (the next mixture ks, k-means at
the chosen k and at its own best, Ward's best, HDBSCAN), each with the figures that justify it.
The LLM layer may explain the choice or pick within the shortlist, never outside it.
"""

from __future__ import annotations

from copilot.core import Frozen, SettingsError, percent
from copilot.segmentation.analysis.sweep import SweepRow, SweepTable

MAX_NOISE_SHARE = 0.30
ALGORITHM_NAMES = {
    "gmm": "Gaussian mixture",
    "kmeans": "k-means",
    "hierarchical": "agglomerative (Ward)",
    "hdbscan": "HDBSCAN",
}


class Candidate(Frozen):
    algorithm: str
    k: int
    why: str


class Choice(Frozen):
    algorithm: str
    k: int
    reason: str
    rule: str  # which rule picked it: "lowest ICL", "best silhouette", "user's k", ...
    min_share: float
    shortlist: tuple[Candidate, ...]


def _eligible(row: SweepRow, min_share: float) -> bool:
    if row.min_share < min_share:
        return False
    return not (row.algorithm == "hdbscan" and row.noise_share > MAX_NOISE_SHARE)


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def describe(row: SweepRow) -> str:
    """The figures of one candidate, as a PM-readable fragment."""
    parts = [f"silhouette {_fmt(row.silhouette)}"]
    if row.icl is not None:
        parts.insert(0, f"ICL {row.icl:,.0f}")
    if row.stability is not None:
        parts.append(f"stability {_fmt(row.stability)}")
    parts.append(f"smallest segment {percent(row.min_share, 1)}")
    if row.algorithm == "hdbscan":
        parts.append(f"{percent(row.noise_share, 0)} unassigned")
    return ", ".join(parts)


def _best_by(rows, key, band, higher_is_better):
    """(best in-band row or best overall, the better out-of-band row if one was passed over)."""
    sign = -1.0 if higher_is_better else 1.0
    scored = [r for r in rows if key(r) is not None]
    if not scored:
        return None, None
    best = min(scored, key=lambda r: (sign * key(r), r.k))
    in_band = [r for r in scored if band[0] <= r.k <= band[1]]
    if not in_band or best in in_band:
        return best, None
    return min(in_band, key=lambda r: (sign * key(r), r.k)), best


def recommend(
    table: SweepTable,
    *,
    algorithm: str = "auto",
    k: int | None = None,
    min_share: float = 0.02,
) -> Choice:
    """Pick the algorithm and k from the sweep table, with a shortlist and the reason.

    Parameters
    ----------
    table : SweepTable
        The scored candidates.
    algorithm : str
        "auto" or one algorithm to choose within.
    k : int, optional
        The user's k: the choice is then that k (for ``algorithm``, or the mixture).
    min_share : float
        Smallest acceptable segment, as a share of customers.
    """
    algos = [a for a in table.algorithms]
    target = algorithm
    if algorithm == "auto":
        target = "gmm" if "gmm" in algos else algos[0]
    rows = table.for_algorithm(target)
    if not rows:
        raise SettingsError(
            f"The {ALGORITHM_NAMES.get(target, target)} found no segmentation of this data; "
            "try another --algorithm or --k."
        )
    eligible = [r for r in rows if _eligible(r, min_share)]
    band = table.band
    if k is not None:
        pick = next((r for r in rows if r.k == k), None)
        if pick is None:
            raise SettingsError(f"k={k} was not part of the sweep; pass it with --k or --k-range.")
        rule = "user's k"
        reason = (f"{ALGORITHM_NAMES[target]} with k={k}, as asked: {describe(pick)}.")
        if pick.min_share < min_share:
            reason += (f" Note: its smallest segment holds {percent(pick.min_share, 1)} of customers, "
                       f"below the {percent(min_share, 0)} usually needed to act on a segment.")
    else:
        pool = eligible or list(rows)
        if target == "gmm":
            pick, passed_over = _best_by(pool, lambda r: r.icl, band, False)
            rule = "lowest ICL"
        elif target == "hdbscan":
            pick, passed_over = max(pool, key=lambda r: r.k), None
            rule = "density (HDBSCAN finds its own k)"
        else:
            pick, passed_over = _best_by(pool, lambda r: r.silhouette, band, True)
            rule = "best silhouette"
        if pick is None:
            pick, passed_over = pool[0], None
        reason = _reason(pick, pool, rule, passed_over, eligible, min_share, band)
    shortlist = _shortlist(table, pick, min_share)
    # Left the user's band (the band rule of the module doc): say why, and keep the best
    # option inside it in the shortlist.
    in_band = (_best_in_band(rows, target, band)
               if k is None and not band[0] <= pick.k <= band[1] else None)
    if in_band is not None:
        reason += " " + _why_out_of_band(in_band, band, min_share, target)
        shortlist = _with_in_band(shortlist, in_band, band, min_share)
    return Choice(algorithm=pick.algorithm, k=pick.k, reason=reason, rule=rule,
                  min_share=min_share, shortlist=shortlist)


def _best_in_band(rows, target: str, band) -> SweepRow | None:
    """The best option with a k in the band, eligible or not, by the algorithm's own rule."""
    inside = [r for r in rows if band[0] <= r.k <= band[1]]
    if target == "gmm":
        inside = [r for r in inside if r.icl is not None]
        return min(inside, key=lambda r: (r.icl, r.k)) if inside else None
    inside = [r for r in inside if r.silhouette is not None]
    return max(inside, key=lambda r: (r.silhouette, -r.k)) if inside else None


def _why_out_of_band(best: SweepRow, band, min_share: float, target: str) -> str:
    """One sentence: why the choice left the user's band (the band rule of the module doc)."""
    if target == "hdbscan":
        return (f"HDBSCAN finds its own k, outside your range of {band[0]}-{band[1]} segments; "
                f"the best option inside it (k={best.k}) is in the shortlist.")
    if best.min_share < min_share:
        return (f"No option with {band[0]}-{band[1]} segments kept every segment above "
                f"{percent(min_share, 0)} of customers (the best, k={best.k}, has a smallest segment of "
                f"{percent(best.min_share, 1)}), so the choice is outside your range; k={best.k} is in "
                "the shortlist, or lower --min-share to allow it.")
    return (f"The best option with {band[0]}-{band[1]} segments is k={best.k} "
            f"({describe(best)}); it is in the shortlist.")


def _with_in_band(shortlist, best: SweepRow, band, min_share: float) -> tuple[Candidate, ...]:
    if any((c.algorithm, c.k) == (best.algorithm, best.k) for c in shortlist):
        return shortlist
    note = (f" (best in your {band[0]}-{band[1]} range; smallest segment below {percent(min_share, 0)})"
            if best.min_share < min_share else f" (best in your {band[0]}-{band[1]} range)")
    extra = Candidate(algorithm=best.algorithm, k=best.k,
                      why=f"{ALGORITHM_NAMES[best.algorithm]}, k={best.k}{note}: {describe(best)}")
    return (*shortlist[:4], extra)


def _reason(pick, pool, rule, passed_over, eligible, min_share, band) -> str:
    name = ALGORITHM_NAMES[pick.algorithm]
    text = f"{name} with k={pick.k}: {rule}"
    if eligible:
        text += f" among options whose smallest segment holds at least {percent(min_share, 0)} of customers"
    else:
        text += f" (no option kept every segment above {percent(min_share, 0)} of customers)"
    if passed_over is not None:
        text += f" within your range of {band[0]}-{band[1]} segments"
    text += f"; {describe(pick)}."
    if passed_over is not None:
        text += (f" Outside that range, k={passed_over.k} scored better "
                 f"({describe(passed_over)}); widen --k-range to consider it.")
    runner = [r for r in pool if r.k != pick.k and band[0] <= r.k <= band[1]]
    if pick.icl is not None and runner:
        nxt = min(runner, key=lambda r: r.icl if r.icl is not None else float("inf"))
        if nxt.icl is not None:
            text += f" Next best: k={nxt.k} (ICL {nxt.icl - pick.icl:+,.0f})."
    elif runner and pick.silhouette is not None:
        nxt = max(runner, key=lambda r: r.silhouette if r.silhouette is not None else -1)
        if nxt.silhouette is not None:
            text += f" Next best: k={nxt.k} (silhouette {nxt.silhouette:.2f})."
    return text


def _shortlist(table: SweepTable, pick: SweepRow, min_share: float) -> tuple[Candidate, ...]:
    """The choice, then good alternatives; out-of-band options are marked as such."""
    out: list[SweepRow] = [pick]

    def add(row: SweepRow | None) -> None:
        if row is not None and all((row.algorithm, row.k) != (o.algorithm, o.k) for o in out):
            out.append(row)

    ok = [r for r in table.rows if _eligible(r, min_share)]
    mix = sorted((r for r in ok if r.algorithm == "gmm" and r.icl is not None),
                 key=lambda r: r.icl)
    for r in mix[:3]:
        add(r)
    km = [r for r in ok if r.algorithm == "kmeans"]
    add(next((r for r in km if r.k == pick.k), None))
    for algo in ("kmeans", "hierarchical", "hdbscan"):
        cands = [r for r in ok if r.algorithm == algo and r.silhouette is not None]
        if cands:
            add(max(cands, key=lambda r: r.silhouette))
    band = table.band

    def why(r: SweepRow) -> str:
        note = "" if band[0] <= r.k <= band[1] else f" (outside your {band[0]}-{band[1]} range)"
        return f"{ALGORITHM_NAMES[r.algorithm]}, k={r.k}{note}: {describe(r)}"

    return tuple(Candidate(algorithm=r.algorithm, k=r.k, why=why(r)) for r in out[:5])
