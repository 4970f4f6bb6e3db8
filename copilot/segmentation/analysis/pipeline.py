"""The whole deterministic analysis in one call: roles, quality, preparation, sweep, choice,
final fit, sizes, profiles, free-text themes, firmographic anchors, rules, outcome validation
and a 2D projection.

``run_segmentation`` returns a ``SegmentationRun``: the JSON-able ``SegmentAnalysis`` (every
number a user will see) plus the per-row arrays (segment, confidence) and the fitted model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from copilot import __version__
from copilot.core import ColumnError, DataError, Frozen, SettingsError
from copilot.segmentation.analysis import anchors as _anchors
from copilot.segmentation.analysis.algorithms import ALGORITHMS, FittedClusters
from copilot.segmentation.analysis.choose import Choice, recommend
from copilot.segmentation.analysis.holdout import holdout_counts
from copilot.segmentation.analysis.mixture import with_spikes
from copilot.segmentation.analysis.parallel import beside
from copilot.segmentation.analysis.prepare import Preparation, fit_preparation
from copilot.segmentation.analysis.profile import SegmentProfile, profile_segments
from copilot.segmentation.analysis.projection import Projection, project_2d
from copilot.segmentation.analysis.quality import QualityReport, leak_left_out, quality_report
from copilot.segmentation.analysis.role_names import named_after_outcome
from copilot.segmentation.analysis.roles import RoleReport, infer_roles
from copilot.segmentation.analysis.rules import RuleSet, surrogate_rules
from copilot.segmentation.analysis.scope import Scope, ScopeReport
from copilot.segmentation.analysis.sweep import SweepTable, fit_final, sweep_k
from copilot.segmentation.analysis.themes import ThemeReport, detect_text_columns, segment_themes
from copilot.segmentation.analysis.validate import (
    OutcomeValidation,
    SegmentSize,
    segment_sizes,
    validate_outcomes,
)

MIN_ROWS = 20
MIN_CUSTOMERS_PER_SEGMENT = 5
DEFAULT_K_VALUES = tuple(range(2, 11))
DEFAULT_BAND = (3, 7)

#: progress(stage, fraction 0-1, message)
Progress = Callable[[str, float, str], None]


class SegmentSettings(Frozen):
    """What the user asked for. None means "infer it"."""

    id_column: str | None = None
    outcomes: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    k: int | None = None
    k_range: tuple[int, int] | None = None
    algorithm: Literal["auto", "kmeans", "gmm", "hierarchical", "hdbscan"] = "auto"
    seed: int = 0
    min_share: float = 0.02
    pca: Literal["auto"] | int | None = "auto"
    #: Firmographic anchors reported per segment: None = the columns ``suggest_anchors`` finds,
    #: () = none.
    anchors: tuple[str, ...] | None = None
    #: Free-text columns mined for themes per segment: None = the detected ones, () = none.
    text_columns: tuple[str, ...] | None = None
    #: Only these customers are segmented (a goal's "among month-to-month customers"); None: all.
    scope: Scope | None = None
    #: Features kept although they look like a leak of an outcome (the user's explicit choice).
    keep: tuple[str, ...] = ()

    @property
    def band(self) -> tuple[int, int]:
        return self.k_range or DEFAULT_BAND

    @property
    def k_values(self) -> tuple[int, ...]:
        if self.k is not None:
            return (self.k,)
        if self.k_range is not None:
            return tuple(range(self.k_range[0], self.k_range[1] + 1))
        return DEFAULT_K_VALUES


class ConfidenceSummary(Frozen):
    mean: float
    share_below_half: float
    unassigned: int


class SegmentAnalysis(Frozen):
    """Everything the analysis computed, as written to ``analysis.json``."""

    engine_version: str
    source: dict[str, str | int | list[str]]
    settings: SegmentSettings
    n_rows: int
    id_column: str | None
    roles: RoleReport
    quality: QualityReport
    preparation: Preparation
    sweep: SweepTable
    choice: Choice
    sizes: tuple[SegmentSize, ...]
    confidence: ConfidenceSummary
    profiles: tuple[SegmentProfile, ...]
    rules: RuleSet
    validation: tuple[OutcomeValidation, ...]
    projection: Projection
    seconds: dict[str, float]
    # Defaults, so that an analysis.json written before themes and anchors still validates.
    themes: tuple[ThemeReport, ...] = ()  # one per text column
    # Segment -> customers the default holdout flags (10%, default salt; see holdout.py), so a
    # planned experiment's group sizes are the ones the CRM export will carry.
    holdout: dict[int, int] = {}
    # The anchors module imports this one (it runs the pipeline per level), so its report type
    # is named through the module object bound at the end of this file.
    anchors: _anchors.AnchorReport | None = None
    # The customers a scope kept, of how many (None: the whole table was segmented).
    scope: ScopeReport | None = None

    def inconsistency(self) -> str | None:
        """What does not add up in a saved analysis (an edited k, sizes that do not sum to
        the rows), in words; None when its parts agree. Read files are checked with it."""
        segments = sorted(s.segment for s in self.sizes if s.segment >= 0)
        if self.choice.k != len(segments):
            return f"it says k={self.choice.k} but holds {len(segments)} segments"
        if sum(s.n for s in self.sizes) != self.n_rows:
            return (f"its segment sizes add up to {sum(s.n for s in self.sizes):,} customers, "
                    f"not the {self.n_rows:,} it segmented")
        if sorted(p.segment for p in self.profiles if p.segment >= 0) != segments:
            return "its profiles and its segments differ"
        return None


@dataclass(frozen=True)
class SegmentationRun:
    analysis: SegmentAnalysis
    labels: np.ndarray
    confidence: np.ndarray
    ids: pd.Series
    model: FittedClusters


def check_settings(df: pd.DataFrame, settings: SegmentSettings) -> None:
    """Refuse impossible settings before any work, each with one sentence."""
    n = len(df)
    if n == 0:
        raise DataError("The table has no rows; supply a file with one row per customer.")
    if n < MIN_ROWS:
        raise DataError(
            f"The table has only {n} row{'s' if n != 1 else ''}; segmentation needs at least "
            f"{MIN_ROWS} customers, one per row."
        )
    if settings.algorithm not in ("auto", *ALGORITHMS):
        raise SettingsError(f"Unknown algorithm '{settings.algorithm}'; choose auto, "
                            f"{', '.join(ALGORITHMS)}.")
    if settings.k is not None and settings.k_range is not None:
        raise SettingsError("Give either --k or --k-range, not both.")
    max_k = max(2, n // MIN_CUSTOMERS_PER_SEGMENT)
    if settings.k is not None and not 2 <= settings.k <= max_k:
        raise SettingsError(
            f"k={settings.k} is impossible for {n} customers; choose k between 2 and {max_k} "
            f"(at least {MIN_CUSTOMERS_PER_SEGMENT} customers per segment on average)."
        )
    if settings.k_range is not None:
        lo, hi = settings.k_range
        if lo < 2 or hi < lo:
            raise SettingsError(
                f"The k range {lo}-{hi} is invalid; give two whole numbers like 3-7, "
                "the first at least 2."
            )
        if lo > max(2, n // MIN_CUSTOMERS_PER_SEGMENT):
            raise SettingsError(
                f"The k range {lo}-{hi} is too large for {n} customers; choose a range "
                f"starting at or below {max(2, n // MIN_CUSTOMERS_PER_SEGMENT)}."
            )
    if not 0 <= settings.min_share < 0.5:
        raise SettingsError("The minimum segment share must be between 0 and 0.5.")
    for column in settings.text_columns or ():
        if column not in df.columns:
            raise ColumnError(f"Text column '{column}' is not in the table; name a column of "
                              f"free text ({_some_columns(df)}).")
    for column in settings.anchors or ():
        # Not in the table, or too many levels to compare: refused before the sweep.
        _anchors.anchor_levels(df, column)


#: Above this many rows the prepared matrix is held in float32: half the memory (120 MB less on
#: 1M x 30, 1.2 GB on 10M), and every computation still runs in float64 on the samples and
#: chunks it reads. Rounding the prepared values to 7 digits moves no segment that matters;
#: smaller tables keep float64, so their results are exactly what they were.
FLOAT32_ABOVE_ROWS = 200_000


def matrix_dtype(n_rows: int) -> type:
    """The prepared matrix's dtype for a table of ``n_rows`` (see ``FLOAT32_ABOVE_ROWS``)."""
    return np.float32 if n_rows > FLOAT32_ABOVE_ROWS else np.float64


SPIKE_SAMPLE = 50_000  # rows read to find point masses (a share of 5% shows long before)


def _themes_and_anchors(df, labels, roles, settings, say, lap=lambda name: None):
    text_columns = (tuple(dict.fromkeys(settings.text_columns))
                    if settings.text_columns is not None else detect_text_columns(df, roles))
    themes = []
    for i, column in enumerate(text_columns):
        say("themes", 0.81 + 0.02 * i / len(text_columns),
            f"finding themes in the free text of {column}")
        themes.append(segment_themes(df[column], labels, seed=settings.seed))
    lap("themes")
    say("anchors", 0.84, "comparing firmographic anchors across segments")
    anchor_columns = (tuple(dict.fromkeys(settings.anchors)) if settings.anchors is not None
                      else tuple(a.column for a in _anchors.suggest_anchors(df, roles)))
    anchors = _anchors.anchors_per_segment(df, labels, anchor_columns) if anchor_columns else None
    lap("anchors")
    return tuple(themes), anchors


def _leave_out_leaks(roles: RoleReport, quality: QualityReport, keep: tuple[str, ...]
                     ) -> tuple[RoleReport, QualityReport]:
    """Leaks never become features: a column that nearly determines an outcome (the quality
    check's AUC, accuracy or Spearman) or whose name is built from an outcome's is left out,
    unless the user keeps it. Segments built on a leak reproduce the label (Cramer's V 0.98 on
    a bank churn table), which a PM would read as having found the churners."""
    reasons: dict[str, str] = {}
    for s in quality.leakage_suspects:
        if s.feature in roles.features and s.feature not in keep:
            reasons.setdefault(s.feature, f"Left out: it nearly determines the outcome "
                               f"{s.outcome} ({s.measure} {s.value:.2f}), so it is likely "
                               f"recorded after it or derived from it; --keep {s.feature} "
                               "keeps it.")
    for feature in roles.features:
        for outcome in roles.outcomes:
            if feature not in reasons and feature not in keep and \
                    named_after_outcome(feature, outcome):
                reasons[feature] = (f"Left out: its name is built from the outcome {outcome}'s, "
                                    f"so it likely describes the outcome; --keep {feature} "
                                    "keeps it.")
    if not reasons:
        return roles, quality
    findings = tuple(leak_left_out(f) if f.kind == "leakage" and f.columns[0] in reasons
                     else f for f in quality.findings)
    return roles.without_features(reasons), quality.model_copy(update={"findings": findings})


def report_themes_and_anchors(
    analysis: SegmentAnalysis,
    df: pd.DataFrame,
    labels: np.ndarray,
    *,
    anchors: tuple[str, ...] | None = None,
    text_columns: tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> SegmentAnalysis:
    """The same segments with other anchors or text columns reported: only the themes and the
    anchor tests are computed again, so the segments (and any names written for them) stay.

    ``anchors`` / ``text_columns``: None keeps the analysis's setting, ``()`` reports none.
    """
    update = {k: v for k, v in (("anchors", anchors), ("text_columns", text_columns))
              if v is not None}
    settings = analysis.settings.model_copy(update=update)
    check_settings(df, settings)
    if len(labels) != len(df):
        raise DataError(f"The table has {len(df):,} rows but the segments were computed for "
                        f"{len(labels):,}; run the segmentation again.")
    say = progress or (lambda stage, fraction, message: None)
    themes, anchor_report = _themes_and_anchors(df, labels, analysis.roles, settings, say)
    return analysis.model_copy(update={"settings": settings, "themes": themes,
                                       "anchors": anchor_report})


def _some_columns(df: pd.DataFrame, n: int = 8) -> str:
    names = ", ".join(map(str, df.columns[:n]))
    return names + (", ..." if len(df.columns) > n else "")


def run_segmentation(
    df: pd.DataFrame,
    settings: SegmentSettings | None = None,
    *,
    source: dict | None = None,
    progress: Progress | None = None,
    inspected: tuple[RoleReport, QualityReport] | None = None,
) -> SegmentationRun:
    """Run the full deterministic analysis on a customer table.

    Parameters
    ----------
    df : DataFrame
        One row per customer.
    settings : SegmentSettings, optional
        Roles, k, algorithm, seed; defaults infer everything.
    source : dict, optional
        Where the table came from (recorded in the analysis).
    progress : callable(stage, fraction, message), optional
    inspected : (RoleReport, QualityReport), optional
        The roles and quality report already read from these rows under these settings (the
        chat's inspect step), used as they are instead of being computed a second time.

    Examples
    --------
    >>> import sys; sys.path.insert(0, ".")
    >>> from fixtures.customers import make_customers
    >>> run = run_segmentation(make_customers(400, 3, seed=1).frame)
    >>> run.analysis.choice.k >= 2
    True
    """
    settings = settings or SegmentSettings()
    df, scope = _apply_scope(df, settings)
    check_settings(df, settings)
    say = progress or (lambda stage, fraction, message: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    roles, quality = _roles_and_quality(df, settings, say, lap, inspected)
    say("prepare", 0.10, f"preparing {len(roles.features)} features")
    prep = fit_preparation(df, roles, pca=settings.pca, random_state=settings.seed)
    X = prep.transform(df, dtype=matrix_dtype(len(df)))
    lap("prepare")
    table, samples, layout = _sweep_all(X, prep, settings, say)
    lap("sweep")
    choice, model, labels, confidence = _choose_and_fit(X, table, samples, layout, settings,
                                                        say)
    lap("fit")
    ids = df[roles.id_column] if roles.id_column else pd.Series(np.arange(1, len(df) + 1),
                                                                 name="row")
    # The holdout hashes every ID in Python (0.7 s on a million), and the rules' tree is one
    # long compiled fit (0.4 s of 0.8): each on a thread of its own, beside the projection and
    # the passes over the columns, which release the GIL.
    with beside(holdout_counts, ids, labels) as holdout, \
            beside(_timed, partial(surrogate_rules, random_state=settings.seed), df, labels,
                   roles) as rules:
        say("projection", 0.76, "projecting to 2D")
        # X is not needed after this: fill its gaps in place rather than copy a matrix that
        # is 240 MB on a million rows, for a projection that reads a few thousand of them;
        # then let it go before the passes over the table's columns.
        np.nan_to_num(X, copy=False, nan=0.0)
        projection = project_2d(X, labels, random_state=settings.seed)
        del X
        lap("projection")
        explained = _explain(df, labels, roles, settings, say, lap, rules)
        explained["projection"] = projection
        explained["holdout"] = holdout()
    lap("holdout")
    seconds["rules"] = explained.pop("rules_seconds")  # its own time, not the wait for it
    analysis = _assemble(df, settings, source, scope, roles, quality, prep, table, choice,
                         labels, confidence, explained, seconds)
    say("done", 1.0, "analysis complete")
    return SegmentationRun(analysis, labels, confidence, ids, model)


def _apply_scope(df: pd.DataFrame, settings: SegmentSettings
                 ) -> tuple[pd.DataFrame, ScopeReport | None]:
    """Keep only the customers the settings' scope is about, and say how many of how many."""
    scope = None
    if settings.scope is not None:  # the rows a goal is about; every step below sees only them
        of_rows = len(df)
        df = settings.scope.apply(df)
        scope = ScopeReport(scope=settings.scope, rows=len(df), of_rows=of_rows)
    return df, scope


def _roles_and_quality(df, settings, say, lap, inspected=None
                       ) -> tuple[RoleReport, QualityReport]:
    """Read the column roles, check the data quality, and leave out the leaks; the roles and
    report of an earlier inspection of the same rows and settings are taken as they are."""
    say("roles", 0.02, "inferring column roles")
    roles = inspected[0] if inspected is not None else infer_roles(
        df, id_column=settings.id_column,
        outcomes=list(settings.outcomes) if settings.outcomes is not None else None,
        exclude=list(settings.exclude),
    )
    lap("roles")
    say("quality", 0.06, "checking data quality")
    quality = inspected[1] if inspected is not None else quality_report(df, roles)
    roles, quality = _leave_out_leaks(roles, quality, settings.keep)
    lap("quality")
    return roles, quality


def _sweep_all(X, prep, settings, say):
    """Sweep the algorithms and k asked for on the prepared matrix: the table, the samples
    it was computed on and the matrix's layout (with its point masses)."""
    algorithms = ALGORITHMS if settings.algorithm == "auto" else (settings.algorithm,)

    def sweep_progress(message: str, fraction: float) -> None:
        say("sweep", 0.12 + 0.58 * fraction, message)

    layout = with_spikes(prep.layout(), X[:: max(1, len(X) // SPIKE_SAMPLE)])
    table, samples = sweep_k(
        X, algorithms=algorithms, k_values=settings.k_values, band=settings.band,
        layout=layout, random_state=settings.seed, progress=sweep_progress,
    )
    return table, samples, layout


def _choose_and_fit(X, table, samples, layout, settings, say):
    """Choose the algorithm and k from the sweep, and fit it on all rows: the choice, the
    model, each row's segment and confidence."""
    choice = recommend(table, algorithm=settings.algorithm, k=settings.k,
                       min_share=settings.min_share)
    say("fit", 0.72, f"fitting {choice.algorithm} with k={choice.k} on all rows")
    model, labels, confidence = fit_final(X, choice.algorithm, choice.k, samples,
                                          layout=layout, random_state=settings.seed)
    return choice, model, labels, confidence


def _timed(fn, *args):
    """``fn(*args)`` and the seconds it took (a step run beside others reports its own time,
    not the time the pipeline waited for it)."""
    start = time.perf_counter()
    return fn(*args), round(time.perf_counter() - start, 3)


def _explain(df, labels, roles, settings, say, lap, rules_beside) -> dict:
    """Explain the segments: sizes and profiles, themes and anchors, rules (computed beside:
    ``rules_beside()`` waits for them) and outcome validation (the fields of the analysis by
    name)."""
    say("profile", 0.80, "profiling segments")
    sizes = segment_sizes(labels)
    profiles = profile_segments(df, labels, roles)
    lap("profile")
    themes, anchors = _themes_and_anchors(df, labels, roles, settings, say, lap)
    say("rules", 0.86, "deriving readable rules")
    rules, rules_seconds = rules_beside()
    lap("rules")
    say("validate", 0.92, "testing outcomes across segments")
    validation = validate_outcomes(df, labels, roles)
    lap("validate")
    return {"sizes": sizes, "profiles": profiles, "themes": tuple(themes), "anchors": anchors,
            "rules": rules, "validation": validation, "rules_seconds": rules_seconds}


def _assemble(df, settings, source, scope, roles, quality, prep, table, choice, labels,
              confidence, explained, seconds) -> SegmentAnalysis:
    """Put the steps' results together as the analysis."""
    return SegmentAnalysis(
        engine_version=__version__,
        source=source or {},
        settings=settings,
        n_rows=len(df),
        id_column=roles.id_column,
        roles=roles,
        quality=quality,
        preparation=prep,
        sweep=table,
        choice=choice,
        sizes=explained["sizes"],
        confidence=ConfidenceSummary(
            mean=float(confidence.mean()),
            share_below_half=float((confidence < 0.5).mean()),
            unassigned=int((labels < 0).sum()),
        ),
        profiles=explained["profiles"],
        rules=explained["rules"],
        validation=explained["validation"],
        projection=explained["projection"],
        seconds=seconds,
        themes=explained["themes"],
        anchors=explained["anchors"],
        holdout=explained["holdout"],
        scope=scope,
    )
