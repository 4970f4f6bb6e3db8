"""Data-quality checks a product manager should see before trusting segments.

``quality_report`` measures missing values, duplicate rows and IDs, constant and
near-constant columns, ID-like columns, skewed and outlying numbers, near-duplicate features
(high Spearman correlation) and possible leakage (a feature that almost is an outcome). Each
problem found becomes a ``QualityFinding`` with one readable sentence carrying the numbers.
The expensive checks (correlations, leakage, near-constant screening) run on a fixed-seed
sample of at most ``SAMPLE_ROWS`` rows, so a million-row table takes a couple of seconds.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, get_args

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from copilot.core import Frozen, percent
from copilot.segmentation.analysis.parallel import engine_threads, run_all
from copilot.segmentation.analysis.roles import RoleReport, outcome_values

SAMPLE_ROWS = 50_000  # rows used for correlations, leakage and near-constant screening
SAMPLE_SEED = 0
NEAR_CONSTANT_SHARE = 0.98  # top value share at or above this is near-constant
SKEW_LIMIT = 2.0  # |skewness| above this is strongly skewed
TUKEY_FAR = 3.0  # outliers lie beyond Q1 - 3 IQR or Q3 + 3 IQR
CORRELATION_LIMIT = 0.9  # |Spearman| at or above this: near-duplicate features
LEAK_SPEARMAN = 0.95  # |Spearman| with a continuous outcome at or above this: leakage
LEAK_AUC = 0.97  # AUC >= this or <= 1 - this for a numeric feature vs a binary outcome
LEAK_ACCURACY = 0.98  # accuracy of a categorical/boolean feature predicting a binary outcome
MISSING_WARNING = 0.2  # missing share at or above this is a warning, below an info
MIN_CLASS_ROWS = 5  # each class of a binary outcome needs this many rows for leakage checks

Severity = Literal["info", "warning"]
FindingKind = Literal[
    "leakage",
    "duplicate_ids",
    "duplicate_rows",
    "duplicate_rows_ignoring_id",
    "missing_values",
    "constant_column",
    "near_constant_column",
    "id_like_column",
    "correlated_features",
    "skewed",
    "outliers",
]
# Findings are ordered by severity (warnings first), then by this kind order, then table order.
FINDING_KINDS: tuple[str, ...] = get_args(FindingKind)


class ColumnMissing(Frozen):
    column: str
    count: int
    share: float


class DuplicateRows(Frozen):
    count: int  # rows that repeat an earlier row
    share: float
    ignoring: str | None = None  # the column left out of the comparison (the ID), if any


class DuplicateIds(Frozen):
    column: str
    values: int  # distinct ID values that appear more than once
    rows: int  # rows carrying such a value
    examples: tuple[str, ...]


class ConstantColumn(Frozen):
    column: str
    top_value: str | None  # None when every value is missing
    top_share: float  # share of the non-missing values that equal top_value
    n_unique: int
    near: bool  # False: one value only; True: almost one value (top_share >= 0.98)


class IdLikeColumn(Frozen):
    column: str
    unique_share: float  # distinct values / non-missing values
    is_id_column: bool


class SkewedColumn(Frozen):
    column: str
    skewness: float


class OutlierColumn(Frozen):
    column: str
    count: int  # values beyond either fence
    share: float  # of the non-missing values
    low_fence: float
    high_fence: float
    count_low: int = 0  # values below the low fence
    count_high: int = 0  # values above the high fence


class CorrelatedPair(Frozen):
    first: str
    second: str
    spearman: float


class LeakageSuspect(Frozen):
    feature: str
    outcome: str
    measure: Literal["spearman", "auc", "accuracy"]
    value: float


class QualityFinding(Frozen):
    kind: FindingKind
    columns: tuple[str, ...]
    severity: Severity
    message: str


class QualityReport(Frozen):
    n_rows: int
    n_columns: int
    sample_rows: int  # rows used for correlations and leakage
    missing: tuple[ColumnMissing, ...]  # every column, table order
    duplicate_rows: DuplicateRows
    duplicate_rows_ignoring_id: DuplicateRows | None  # None without an ID column
    duplicate_ids: DuplicateIds | None  # None without an ID column or without repeats
    constant_columns: tuple[ConstantColumn, ...]  # constant and near-constant
    id_like_columns: tuple[IdLikeColumn, ...]
    skewed_columns: tuple[SkewedColumn, ...]  # |skewness| > 2
    outliers: tuple[OutlierColumn, ...]  # every numeric feature, count may be 0
    correlated_pairs: tuple[CorrelatedPair, ...]  # |Spearman| >= 0.9
    leakage_suspects: tuple[LeakageSuspect, ...]
    findings: tuple[QualityFinding, ...]

    def findings_of(self, kind: str) -> tuple[QualityFinding, ...]:
        return tuple(f for f in self.findings if f.kind == kind)


# --------------------------------------------------------------------------------------------


def quality_report(df: pd.DataFrame, roles: RoleReport) -> QualityReport:
    """Check ``df`` for the problems that mislead a segmentation; see the module docstring."""
    n = len(df)
    names = [str(c) for c in df.columns]
    role_of = {c.name: c for c in roles.columns}
    sample = _sample(df)

    missing = _missing(df)
    dup_rows, dup_ignoring = _duplicate_rows(df, roles.id_column)
    dup_ids = _duplicate_ids(df, roles.id_column)
    constants = _constants(df, sample, roles)
    id_like = _id_like(df, roles)
    numeric = [c for c in roles.features if role_of[c].role == "numeric"]
    skewed = _skewed(df, numeric)
    outliers = _outliers(df, numeric)
    correlated = _correlated(sample, roles)
    leakage = _leakage(sample, roles)

    findings: list[QualityFinding] = []
    findings += _missing_findings(missing)
    findings += _duplicate_findings(dup_rows, dup_ignoring, dup_ids)
    findings += _constant_findings(constants)
    findings += _id_like_findings(id_like)
    findings += [
        QualityFinding(
            kind="skewed", columns=(s.column,), severity="info",
            message=(f"{s.column} is strongly skewed (skewness {s.skewness:.1f}): a few very "
                     "large or small values stretch its range."),
        )
        for s in skewed
    ]
    findings += [_outlier_finding(o) for o in outliers if o.count > 0]
    findings += [
        QualityFinding(
            kind="correlated_features", columns=(p.first, p.second), severity="info",
            message=(f"{p.first} and {p.second} move together almost perfectly (Spearman "
                     f"{p.spearman:.2f}), so they count twice in the segments; consider "
                     "keeping only one."),
        )
        for p in correlated
    ]
    findings += [_leak_finding(s) for s in leakage]

    kind_rank = {k: i for i, k in enumerate(FINDING_KINDS)}
    position = {c: i for i, c in enumerate(names)}
    findings = sorted(
        findings,
        key=lambda f: (
            0 if f.severity == "warning" else 1,
            kind_rank[f.kind],
            min((position.get(c, len(names)) for c in f.columns), default=-1),
        ),
    )
    return QualityReport(
        n_rows=n,
        n_columns=len(names),
        sample_rows=len(sample),
        missing=missing,
        duplicate_rows=dup_rows,
        duplicate_rows_ignoring_id=dup_ignoring,
        duplicate_ids=dup_ids,
        constant_columns=constants,
        id_like_columns=id_like,
        skewed_columns=skewed,
        outliers=outliers,
        correlated_pairs=correlated,
        leakage_suspects=leakage,
        findings=tuple(findings),
    )


# ------------------------------------------------------------------------------- formatting


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _num(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _label(v: object) -> str:
    return str(v).strip()


# ---------------------------------------------------------------------------------- helpers


def _sample(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= SAMPLE_ROWS:
        return df
    rng = np.random.default_rng(SAMPLE_SEED)
    rows = np.sort(rng.choice(len(df), SAMPLE_ROWS, replace=False))
    return df.iloc[rows]


def _as_float(s: pd.Series) -> np.ndarray:
    """Numeric or two-valued columns as floats (NaN where missing); text by sorted codes."""
    if ptypes.is_bool_dtype(s.dtype) or ptypes.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    codes, _levels = pd.factorize(s, sort=True, use_na_sentinel=True)
    out = codes.astype(float)
    out[codes < 0] = np.nan
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(method="average").to_numpy(dtype=float)


def _pairwise_corr(R: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of ``R`` on pairwise-complete rows."""
    present = ~np.isnan(R)
    if present.all():
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.atleast_2d(np.corrcoef(R, rowvar=False))
    M = present.astype(float)
    X = np.where(present, R, 0.0)
    n = M.T @ M
    sx = X.T @ M  # sx[i, j]: sum of column i over rows where j is present (and i)
    sxx = (X * X).T @ M
    sxy = X.T @ X
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var_i = sxx - sx * sx / n
        corr = cov / np.sqrt(var_i * var_i.T)
    corr[n < 3] = np.nan
    return corr


# ----------------------------------------------------------------------------------- checks


def _missing(df: pd.DataFrame) -> tuple[ColumnMissing, ...]:
    n = len(df)
    counts = df.isna().sum()
    return tuple(
        ColumnMissing(column=str(c), count=int(k), share=float(k / n) if n else 0.0)
        for c, k in counts.items()
    )


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def _column_hash(s: pd.Series) -> np.ndarray:
    try:
        return pd.util.hash_pandas_object(s, index=False).to_numpy()
    except TypeError:  # unhashable cells
        return pd.util.hash_pandas_object(s.astype(str), index=False).to_numpy()


def _combine(h: np.ndarray, hc: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return h * _HASH_MULT + hc


def _confirmed_duplicates(df: pd.DataFrame, columns: list, h: np.ndarray) -> int:
    """Rows equal to an earlier row on ``columns``: hash candidates, confirmed exactly."""
    candidates = pd.Series(h).duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0
    sub = df.loc[candidates, columns]
    try:
        return int(sub.duplicated().sum())
    except TypeError:
        return int(sub.astype(str).duplicated().sum())


def _duplicate_rows(df: pd.DataFrame, id_column: str | None):
    n = len(df)
    columns = list(df.columns)
    has_id = id_column is not None and id_column in df.columns
    rest = [c for c in columns if c != id_column] if has_id else columns
    h = np.zeros(n, dtype=np.uint64)
    # Columns hashed on the engine's threads, a few at a time (a hash is 8 bytes a row), and
    # combined in table order as before.
    step = engine_threads()
    for start in range(0, len(rest), step):
        for hc in run_all([partial(_column_hash, df[c]) for c in rest[start:start + step]]):
            h = _combine(h, hc)
    ignoring = None
    if has_id:
        count = _confirmed_duplicates(df, rest, h) if n > 1 and rest else 0
        ignoring = DuplicateRows(count=count, share=count / n if n else 0.0, ignoring=id_column)
        ids = df[id_column]
        if ids.notna().all() and not ids.duplicated().any():
            full = 0  # a complete, unique ID makes every row different
        else:
            h = _combine(h, _column_hash(ids))
            full = _confirmed_duplicates(df, columns, h) if n > 1 else 0
    else:
        full = _confirmed_duplicates(df, columns, h) if n > 1 else 0
    return DuplicateRows(count=full, share=full / n if n else 0.0), ignoring


def _duplicate_ids(df: pd.DataFrame, id_column: str | None) -> DuplicateIds | None:
    if id_column is None or id_column not in df.columns:
        return None
    s = df[id_column].dropna()
    mask = s.duplicated(keep=False)
    rows = int(mask.sum())
    if rows == 0:
        return None
    repeated = s[mask].drop_duplicates()
    return DuplicateIds(
        column=id_column,
        values=len(repeated),
        rows=rows,
        examples=tuple(_label(v) for v in repeated.iloc[:3]),
    )


def _top_value(s: pd.Series) -> tuple[object, float]:
    counts = s.value_counts(dropna=True)
    if counts.empty:
        return None, 0.0
    return counts.index[0], float(counts.iloc[0] / counts.sum())


def _constants(df: pd.DataFrame, sample: pd.DataFrame, roles: RoleReport):
    out: list[ConstantColumn] = []
    for c in roles.columns:
        if c.role in ("id", "outcome", "excluded"):
            continue
        if c.n_unique <= 1:
            present = df[c.name].dropna()
            top = None if present.empty else _label(present.iloc[0])
            out.append(ConstantColumn(column=c.name, top_value=top, top_share=1.0 if top is not None else 0.0,
                                      n_unique=c.n_unique, near=False))
            continue
        value, share = _top_value(sample[c.name])
        if len(sample) < len(df):
            if share < NEAR_CONSTANT_SHARE - 0.03:
                continue  # clearly not near-constant on the sample
            value, share = _top_value(df[c.name])
        if share >= NEAR_CONSTANT_SHARE:
            out.append(ConstantColumn(column=c.name, top_value=_label(value), top_share=share,
                                      n_unique=c.n_unique, near=True))
    return tuple(out)


def _id_like(df: pd.DataFrame, roles: RoleReport) -> tuple[IdLikeColumn, ...]:
    n = len(df)
    out = []
    for c in roles.columns:
        present = round(n * (1.0 - c.missing_share))
        share = c.n_unique / present if present else 0.0
        if c.role == "id":
            out.append(IdLikeColumn(column=c.name, unique_share=share,
                                    is_id_column=c.name == roles.id_column))
        elif c.role == "text" and share >= 0.9 and present >= 10:
            mean_len = df[c.name].dropna().iloc[:5000].astype(str).str.len().mean()
            if mean_len <= 30:
                out.append(IdLikeColumn(column=c.name, unique_share=share, is_id_column=False))
    return tuple(out)


def _per_column(fn, df: pd.DataFrame, columns: list[str]) -> tuple:
    """``fn(values, column)`` for each column on the engine's threads (quantiles and moments
    of a million rows release the GIL), the results that are not None in table order."""
    def one(series: pd.Series, c: str):
        return fn(series.to_numpy(dtype=float, na_value=np.nan), c)  # a copy per task only

    found = run_all([partial(one, df[c], c) for c in columns])
    return tuple(f for f in found if f is not None)


def _skewed(df: pd.DataFrame, numeric: list[str]) -> tuple[SkewedColumn, ...]:
    return _per_column(_skewed_column, df, numeric)


def _skewed_column(x: np.ndarray, c: str) -> SkewedColumn | None:
    x = x[np.isfinite(x)]
    if x.size < 3:
        return None
    sd = x.std()
    if not sd > 0:
        return None
    skew = float(pd.Series(x).skew())
    if np.isfinite(skew) and abs(skew) > SKEW_LIMIT:
        return SkewedColumn(column=c, skewness=skew)
    return None


def _outliers(df: pd.DataFrame, numeric: list[str]) -> tuple[OutlierColumn, ...]:
    return _per_column(_outlier_column, df, numeric)


def _outlier_column(x: np.ndarray, c: str) -> OutlierColumn | None:
    x = x[~np.isnan(x)]
    if x.size < 4:
        return None
    q1, q3 = np.quantile(x, [0.25, 0.75])
    iqr = q3 - q1
    low, high = q1 - TUKEY_FAR * iqr, q3 + TUKEY_FAR * iqr
    # With IQR == 0 the fences collapse onto one value; do not call everything else extreme.
    below = int((x < low).sum()) if iqr > 0 else 0
    above = int((x > high).sum()) if iqr > 0 else 0
    count = below + above
    return OutlierColumn(column=c, count=count, share=count / x.size, low_fence=float(low),
                         high_fence=float(high), count_low=below, count_high=above)


def _correlated(sample: pd.DataFrame, roles: RoleReport) -> tuple[CorrelatedPair, ...]:
    cols = [c for c in roles.features if roles.get(c).role in ("numeric", "boolean")]
    if len(cols) < 2 or len(sample) < 3:
        return ()
    R = np.column_stack([_ranks(_as_float(sample[c])) for c in cols])
    corr = _pairwise_corr(R)
    out = []
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            r = corr[i, j]
            if np.isfinite(r) and abs(r) >= CORRELATION_LIMIT:
                out.append(CorrelatedPair(first=cols[i], second=cols[j],
                                          spearman=float(np.clip(r, -1, 1))))
    return tuple(out)


def _auc(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    n1 = int((y == 1).sum())
    n0 = int((y == 0).sum())
    if n1 < MIN_CLASS_ROWS or n0 < MIN_CLASS_ROWS:
        return None
    r = _ranks(x)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _accuracy(s: pd.Series, y: np.ndarray) -> float | None:
    ok = ~np.isnan(y)
    y = y[ok]
    n = y.size
    n1 = int((y == 1).sum())
    if n1 < MIN_CLASS_ROWS or n - n1 < MIN_CLASS_ROWS:
        return None
    codes, levels = pd.factorize(s[ok], use_na_sentinel=False)
    if len(levels) * 10 > n:
        return None  # too many levels for the rows: high accuracy would mean nothing
    pos = np.bincount(codes, weights=y, minlength=len(levels))
    tot = np.bincount(codes, minlength=len(levels))
    acc = float(np.maximum(pos, tot - pos).sum() / n)
    baseline_error = min(n1, n - n1) / n
    if (1 - acc) > baseline_error / 2:
        return None  # not much better than always guessing the common class
    return acc


def _leakage(sample: pd.DataFrame, roles: RoleReport) -> tuple[LeakageSuspect, ...]:
    out: list[LeakageSuspect] = []
    features = [roles.get(c) for c in roles.features]
    for name in roles.outcomes:
        role = roles.get(name)
        if role.outcome_kind is None or len(sample) < 3:
            continue
        y = outcome_values(sample, role).to_numpy(dtype=float)
        if role.outcome_kind == "continuous":
            ry = _ranks(y)
            for f in features:
                if f.role not in ("numeric", "boolean"):
                    continue
                rx = _ranks(_as_float(sample[f.name]))
                r = _pairwise_corr(np.column_stack([rx, ry]))[0, 1]
                if np.isfinite(r) and abs(r) >= LEAK_SPEARMAN:
                    out.append(LeakageSuspect(feature=f.name, outcome=name, measure="spearman",
                                              value=float(np.clip(r, -1, 1))))
            continue
        for f in features:
            if f.role == "numeric":
                auc = _auc(_as_float(sample[f.name]), y)
                if auc is not None and (auc >= LEAK_AUC or auc <= 1 - LEAK_AUC):
                    out.append(LeakageSuspect(feature=f.name, outcome=name, measure="auc",
                                              value=auc))
            elif f.role in ("categorical", "boolean"):
                acc = _accuracy(sample[f.name], y)
                if acc is not None and acc >= LEAK_ACCURACY:
                    out.append(LeakageSuspect(feature=f.name, outcome=name,
                                              measure="accuracy", value=acc))
    return tuple(out)


# --------------------------------------------------------------------------------- findings


def _missing_findings(missing: tuple[ColumnMissing, ...]) -> list[QualityFinding]:
    out = []
    for m in missing:
        if m.count == 0:
            continue
        out.append(QualityFinding(
            kind="missing_values", columns=(m.column,),
            severity="warning" if m.share >= MISSING_WARNING else "info",
            message=f"{m.column} has {m.count:,} missing value{_s(m.count)} ({percent(m.share, 1)}).",
        ))
    return out


def _duplicate_findings(full: DuplicateRows, ignoring: DuplicateRows | None,
                        ids: DuplicateIds | None) -> list[QualityFinding]:
    out = []
    if full.count:
        out.append(QualityFinding(
            kind="duplicate_rows", columns=(), severity="warning",
            message=(f"{full.count:,} row{_s(full.count)} ({percent(full.share, 1)}) "
                     f"{'is an exact copy' if full.count == 1 else 'are exact copies'} of an "
                     f"earlier row; remove {'it' if full.count == 1 else 'them'} so no "
                     "customer counts twice."),
        ))
    if ignoring is not None and ignoring.count > full.count:
        k = ignoring.count
        out.append(QualityFinding(
            kind="duplicate_rows_ignoring_id", columns=(ignoring.ignoring or "",),
            severity="warning",
            message=(f"{k:,} row{_s(k)} ({percent(ignoring.share, 1)}) repeat{'s' if k == 1 else ''} "
                     f"an earlier row in every column except {ignoring.ignoring}, which may be "
                     "the same customer under two IDs."),
        ))
    if ids is not None:
        examples = ", ".join(f"'{e}'" for e in ids.examples)
        out.append(QualityFinding(
            kind="duplicate_ids", columns=(ids.column,), severity="warning",
            message=(f"{ids.column} has {ids.values:,} value{_s(ids.values)} that appear"
                     f"{'s' if ids.values == 1 else ''} more than once ({ids.rows:,} rows, for "
                     f"example {examples}), so it does not identify customers uniquely."),
        ))
    return out


def _constant_findings(constants: tuple[ConstantColumn, ...]) -> list[QualityFinding]:
    out = []
    for c in constants:
        if not c.near:
            if c.top_value is None:
                msg = f"{c.column} is empty (every value is missing), so it is left out."
            else:
                msg = (f"{c.column} has a single value ('{c.top_value}'), so it cannot separate "
                       "customers and is left out.")
            out.append(QualityFinding(kind="constant_column", columns=(c.column,),
                                      severity="info", message=msg))
        else:
            out.append(QualityFinding(
                kind="near_constant_column", columns=(c.column,), severity="info",
                message=(f"{c.column} is '{c.top_value}' in {percent(c.top_share, 1)} of the rows "
                         "that have a value, so it barely separates customers."),
            ))
    return out


def _id_like_findings(id_like: tuple[IdLikeColumn, ...]) -> list[QualityFinding]:
    out = []
    for c in id_like:
        if c.is_id_column:
            msg = (f"{c.column} is the ID column ({percent(c.unique_share, 1)} of its values are "
                   "unique); it labels the rows and is never used as a feature.")
        elif c.unique_share >= 0.9:
            msg = (f"{c.column} looks like an identifier ({percent(c.unique_share, 1)} of its values "
                   "are unique), so it is kept out of the features.")
        else:
            msg = (f"{c.column} looks like an identifier by its name although its values repeat "
                   f"({percent(c.unique_share, 1)} unique), so it is kept out of the features.")
        out.append(QualityFinding(kind="id_like_column", columns=(c.column,), severity="info",
                                  message=msg))
    return out


def _outlier_finding(o: OutlierColumn) -> QualityFinding:
    if o.count_low == 0:
        where = f"above {_num(o.high_fence)}"
    elif o.count_high == 0:
        where = f"below {_num(o.low_fence)}"
    else:
        where = f"outside {_num(o.low_fence)} to {_num(o.high_fence)}"
    return QualityFinding(
        kind="outliers", columns=(o.column,), severity="info",
        message=(f"{o.column} has {o.count:,} extreme value{_s(o.count)} ({percent(o.share, 1)}) "
                 f"{where}, more than three interquartile ranges beyond the middle half."),
    )


def leak_left_out(finding: QualityFinding) -> QualityFinding:
    """A leakage finding whose feature the analysis left out: says so, and how to keep it."""
    feature = finding.columns[0]
    message = finding.message.replace("; check it before using it as a feature.", "")
    return finding.model_copy(update={"message": (
        f"{message.rstrip('.')}; it was left out of the features (keep it with --keep "
        f"{feature}, or /include {feature} in the chat).")})


def _leak_finding(s: LeakageSuspect) -> QualityFinding:
    if s.measure == "spearman":
        how = f"moves almost exactly with {s.outcome} (Spearman {s.value:.2f})"
    elif s.measure == "auc":
        how = f"almost perfectly separates {s.outcome} (AUC {s.value:.2f})"
    else:
        how = f"predicts {s.outcome} with {percent(s.value, 1)} accuracy"
    return QualityFinding(
        kind="leakage", columns=(s.feature, s.outcome), severity="warning",
        message=(f"{s.feature} {how}, so it may be recorded after the outcome or derived from "
                 "it; check it before using it as a feature."),
    )
