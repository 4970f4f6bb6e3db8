"""Feature preparation: from a customer table to a numeric matrix clustering can use.

Every step is fitted once and recorded as plain numbers in a ``Preparation``, so exactly the
same transform applies to new customers later (and can be saved as JSON).

Numeric columns: skew handling (log1p for skewed non-negative columns, Yeo-Johnson for skewed
columns with negatives), clipping at Tukey's far fences (so 1% wild outliers cannot stretch a
column), centring on the median and scaling to unit spread. Missing values stay NaN in the
matrix: the clustering layer fills them from the segment a row belongs to, which blurs the
segments far less than a global median would. A missing-value indicator is added only where
missingness is informative (rows with the value missing differ on other columns).

Categorical columns are one-hot encoded and scaled so that each categorical column as a whole
has the same total variance as one numeric column: a 12-level column does not outweigh a
numeric one 12 times. Booleans become one unit-variance column.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from copilot.core import DataError, Frozen, percent
from copilot.segmentation.analysis.mixture import Layout
from copilot.segmentation.analysis.parallel import run_all
from copilot.segmentation.analysis.roles import RoleReport

FIT_SAMPLE = 200_000  # statistics of a column are stable long before a million rows
# Rows from which the columns of a transform are prepared on the engine's threads; below, a
# thread pool costs more than the columns (a few milliseconds each).
PARALLEL_ROWS = 50_000
RARE_LEVEL_SHARE = 0.01
MAX_LEVELS = 30
MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "(other)"


class NumericStep(Frozen):
    """How one numeric, boolean or datetime column becomes one matrix column."""

    name: str
    source: Literal["numeric", "boolean", "datetime"]
    transform: Literal["none", "log1p", "yeo-johnson"]
    yeo_johnson_lambda: float | None = None
    true_value: str | None = None  # booleans: the value read as 1
    reference_time: str | None = None  # datetimes: days before this instant
    clip_low: float
    clip_high: float
    center: float
    scale: float
    missing_indicator: bool = False
    missing_share: float = 0.0


class CategoricalStep(Frozen):
    """How one categorical column becomes weighted one-hot matrix columns."""

    name: str
    levels: tuple[str, ...]  # kept levels, in output order; rare ones fold into OTHER_LEVEL
    means: tuple[float, ...]  # level shares at fit time (centring)
    weight: float  # multiplier giving the column total variance 1
    # Levels that mean "not applicable" because another column already says so, for exactly the
    # same customers (OnlineSecurity = "No internet service" is InternetService = No): rows at
    # them are left out of this column (NaN) instead of counting the same fact twice.
    implied: tuple[str, ...] = ()


class PCAStep(Frozen):
    n_components: int
    mean: tuple[float, ...]
    components: tuple[tuple[float, ...], ...]
    explained_variance_ratio: tuple[float, ...]


class Preparation(Frozen):
    """A fitted, recorded preparation. ``transform`` applies it to any table with the columns."""

    numeric: tuple[NumericStep, ...]
    categorical: tuple[CategoricalStep, ...]
    pca: PCAStep | None = None
    notes: tuple[str, ...] = ()

    @property
    def input_columns(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.numeric) + tuple(s.name for s in self.categorical)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the matrix columns before PCA."""
        names = [s.name for s in self.numeric]
        names += [f"{s.name} is missing" for s in self.numeric if s.missing_indicator]
        for step in self.categorical:
            names += [f"{step.name} = {level}" for level in step.levels]
        return tuple(names)

    def layout(self) -> Layout:
        """Which matrix columns are continuous and which are categorical (for mixtures)."""
        if self.pca is not None:
            return Layout(tuple(range(self.pca.n_components)), ())
        continuous, categorical, cuts = [], [], []
        for i, step in enumerate(self.numeric):
            if step.source == "boolean":
                categorical.append((i,))
                cuts.append((0.5 - step.center) / step.scale)  # between prepared 0 and 1
            else:
                continuous.append(i)
        col = len(self.numeric)
        for step in self.numeric:
            if step.missing_indicator:
                p = step.missing_share
                categorical.append((col,))
                cuts.append((0.5 - p) / np.sqrt(p * (1 - p)))
                col += 1
        for step in self.categorical:
            categorical.append(tuple(range(col, col + len(step.levels))))
            cuts.append(None)
            col += len(step.levels)
        return Layout(tuple(continuous), tuple(categorical), tuple(cuts))

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.pca is None:
            return self.feature_names
        return tuple(f"PC{i + 1}" for i in range(self.pca.n_components))

    def transform(self, df: pd.DataFrame, *, impute: bool = False,
                  dtype: type = np.float64) -> np.ndarray:
        """The prepared matrix (float64, or ``dtype``). Missing numeric values stay NaN unless
        ``impute``.

        With PCA, missing values are always filled with the column centre first.
        """
        missing = [c for c in self.input_columns if c not in df.columns]
        if missing:
            raise DataError(
                f"The table lacks column(s) the preparation needs: {', '.join(missing)}; "
                "supply a table with the same columns as the one the segments were built on."
            )
        # Filled column by column into one preallocated array: on a million rows, stacking
        # per-column blocks would hold the whole matrix twice.
        n_ind = sum(s.missing_indicator for s in self.numeric)
        width = len(self.numeric) + n_ind + sum(len(s.levels) for s in self.categorical)
        X = np.empty((len(df), width), dtype=dtype)
        ind_col = len(self.numeric)
        parts = []
        for j, step in enumerate(self.numeric):
            parts.append(partial(_fill_numeric, X, df[step.name], step, j,
                                 ind_col if step.missing_indicator else None))
            ind_col += step.missing_indicator
        # Each column writes its own slice of X: on a large table, on the engine's threads
        # (a skew transform of a million values is numpy's loops, which release the GIL).
        run_all(parts, threads=None if len(df) >= PARALLEL_ROWS else 1)
        col = ind_col
        for step in self.categorical:
            X[:, col:col + len(step.levels)] = _apply_categorical(df[step.name], step)
            col += len(step.levels)
        if impute or self.pca is not None:
            np.nan_to_num(X, copy=False, nan=0.0)  # 0 is the centre after centring
        if self.pca is not None:
            comps = np.asarray(self.pca.components)
            X = ((X - np.asarray(self.pca.mean)) @ comps.T).astype(dtype, copy=False)
        return X


def _fill_numeric(X: np.ndarray, series: pd.Series, step: NumericStep, j: int,
                  indicator: int | None) -> None:
    """Column ``j`` of the prepared matrix (and its missing-value indicator's, if any)."""
    raw = _numeric_source(series, step)
    X[:, j] = _apply_numeric(raw, step)
    if indicator is not None:
        # Centred and scaled with the fit-time share: unit variance, like a boolean.
        p = step.missing_share
        X[:, indicator] = (np.isnan(raw) - p) / np.sqrt(p * (1 - p))


def _numeric_source(series: pd.Series, step: NumericStep) -> np.ndarray:
    if step.source == "boolean":
        text = series.astype("string")
        out = np.where(text.isna(), np.nan, (text == step.true_value).astype(float))
        return out.astype(float)
    if step.source == "datetime":
        ref = pd.Timestamp(step.reference_time)
        when = _naive_datetimes(series)
        return ((ref - when).dt.total_seconds() / 86400.0).to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def skew_transform(values: np.ndarray, kind: str, lam: float | None) -> np.ndarray:
    if kind == "log1p":
        return np.log1p(np.maximum(values, 0.0))
    if kind == "yeo-johnson":
        # New rows far beyond the training range may overflow to inf, which the clip at the
        # fitted fences then bounds: no warning for the user.
        with np.errstate(over="ignore", invalid="ignore"):
            ok = ~np.isnan(values)
            if ok.all():
                return yeo_johnson(values, lam)
            out = np.full_like(values, np.nan)
            out[ok] = yeo_johnson(values[ok], lam)
            return out
    return values


def yeo_johnson(x: np.ndarray, lam: float) -> np.ndarray:
    """``scipy.stats.yeojohnson(x, lmbda=lam)``: the same formulas, value for value, without
    the library's masked copies when every value is on one side of 0 (spend, counts). On a
    million rows the transform is applied to every skewed column, and scipy's masks took
    about half of it."""
    eps = np.finfo(np.float64).eps
    x = np.asarray(x, dtype=np.float64)

    def upper(v):  # x >= 0: ((x + 1) ** lam - 1) / lam, stably
        return np.log1p(v) if abs(lam) < eps else np.expm1(lam * np.log1p(v)) / lam

    def lower(v):  # x < 0
        if abs(lam - 2) > eps:
            return -np.expm1((2 - lam) * np.log1p(-v)) / (2 - lam)
        return -np.log1p(-v)

    pos = x >= 0
    if pos.all():
        return upper(x)
    if not pos.any():
        return lower(x)
    out = np.empty_like(x)
    out[pos] = upper(x[pos])
    out[~pos] = lower(x[~pos])
    return out


def _naive_datetimes(series: pd.Series) -> pd.Series:
    """Datetimes as naive UTC: time-zone-aware and naive columns then subtract alike."""
    when = pd.to_datetime(series, errors="coerce", utc=False)
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    return when


def _apply_numeric(raw: np.ndarray, step: NumericStep) -> np.ndarray:
    values = skew_transform(raw, step.transform, step.yeo_johnson_lambda)
    values = np.clip(values, step.clip_low, step.clip_high)
    return (values - step.center) / step.scale


def _apply_categorical(series: pd.Series, step: CategoricalStep) -> np.ndarray:
    text = series.astype("string").fillna(MISSING_LEVEL)
    known = set(step.levels)
    # Levels unseen at fit time fold into "(other)" when it exists, else match no level.
    text = text.where(text.isin(known), OTHER_LEVEL if OTHER_LEVEL in known else pd.NA)
    codes = pd.Categorical(text, categories=list(step.levels)).codes
    onehot = np.zeros((len(series), len(step.levels)))
    hit = codes >= 0
    onehot[np.flatnonzero(hit), codes[hit]] = 1.0
    out = (onehot - np.asarray(step.means)) * step.weight
    if step.implied:
        out[text.isin(list(step.implied)).to_numpy(dtype=bool, na_value=False)] = np.nan
    return out


def _octile_skew(values: np.ndarray) -> float:
    # A quantile skewness: unlike the moment skewness, 1% wild outliers do not drive it.
    q125, q50, q875 = np.quantile(values, [0.125, 0.5, 0.875])
    spread = q875 - q125
    return 0.0 if spread <= 0 else float((q875 + q125 - 2 * q50) / spread)


SKEW_THRESHOLD = 0.15


def _choose_transform(values: np.ndarray) -> tuple[str, float | None]:
    if len(values) < 10 or np.unique(values[: 10_000]).size <= 2:
        return "none", None
    raw_skew = _octile_skew(values)
    if values.min() >= 0:
        if np.unique(values[:10_000]).size >= 20:
            return ("log1p", None) if _log_scale_fits_better(values) else ("none", None)
        # Few distinct values (small counts): judge by symmetry alone.
        if abs(raw_skew) > SKEW_THRESHOLD and abs(_octile_skew(np.log1p(values))) < abs(raw_skew):
            return "log1p", None
        return "none", None
    if abs(raw_skew) <= SKEW_THRESHOLD:
        return "none", None
    # Fit lambda on values inside the far fences: wild outliers would otherwise pick it.
    q1, q3 = np.quantile(values, [0.25, 0.75])
    inner = values[(values >= q1 - 3 * (q3 - q1)) & (values <= q3 + 3 * (q3 - q1))]
    if len(inner) > 5000:  # lambda is pinned down by a few thousand values; a fit is O(n)
        inner = np.random.default_rng(0).choice(inner, 5000, replace=False)
    try:
        _, lam = stats.yeojohnson(inner)
    except (ValueError, FloatingPointError):
        return "none", None
    if not np.isfinite(lam):
        return "none", None
    # A far outlier can overflow the trial (x ** lam); the check below refuses the transform
    # then, so NumPy's overflow warning would only be noise on the user's terminal.
    with np.errstate(over="ignore", invalid="ignore"):
        trial = stats.yeojohnson(values[:20_000], lmbda=lam)
    if np.all(np.isfinite(trial)) and abs(_octile_skew(trial)) < abs(raw_skew):
        return "yeo-johnson", float(lam)
    return "none", None


def _log_scale_fits_better(values: np.ndarray, sample: int = 3000) -> bool:
    """Is the column better described on the log1p scale than on its own, by likelihood?

    Spend and usage are usually multiplicative, but a skew statistic of the whole column
    cannot tell: a mix of lognormal segments can look symmetric as a whole while every
    segment in it is skewed (and a mixture would then split each segment's tail off as a
    segment of its own), and a uniform column looks "wide" without being lognormal. So fit a
    small 1-D Gaussian mixture on each scale and compare log-likelihoods in the original
    units (the log scale pays the Jacobian, -log(1 + x)), the way Box-Cox chooses a power.
    """
    rng = np.random.default_rng(0)
    x = values if len(values) <= sample else rng.choice(values, sample, replace=False)
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.quantile(x, [0.005, 0.995])
    x = np.clip(x, lo, hi)  # wild outliers would decide the comparison otherwise
    scores = []
    for y, jacobian in ((x, 0.0), (np.log1p(x), -np.log1p(x).mean())):
        var = float(y.var())
        if not var > 0:  # no spread, or infinite values (NaN variance): no log scale
            return False
        scores.append(gaussian_mixture_1d_score(y, reg_covar=1e-3 * var) + jacobian)
    return scores[1] > scores[0]


def gaussian_mixture_1d_score(y: np.ndarray, *, reg_covar: float, k: int = 3,
                              tol: float = 1e-3, max_iter: int = 100) -> float:
    """Mean log-likelihood of ``y`` under a k-component 1-D Gaussian mixture fitted by EM:
    what ``GaussianMixture(k, reg_covar=reg_covar, random_state=0, n_init=1,
    init_params="k-means++").fit(y[:, None]).score(y[:, None])`` returns, step for step
    (the same k-means++ seeds, updates and stopping rule), to rounding.

    Written out because one column is a few thousand values: scikit-learn's estimator spent
    about 30 ms a fit (two a column) on its checks and its per-component loops, most of
    ``prepare`` on a small table; these steps on a (k, n) array take about 7 ms."""
    from sklearn.cluster import kmeans_plusplus

    n = len(y)
    _, seeds = kmeans_plusplus(y[:, None], k, random_state=np.random.RandomState(0))
    resp = np.zeros((k, n))
    resp[np.arange(k), seeds] = 1.0
    eps10 = 10 * np.finfo(np.float64).eps

    def m_step(resp: np.ndarray, first: bool):
        nk = resp.sum(axis=1) + eps10
        means = resp @ y / nk
        diff = y[None, :] - means[:, None]
        variances = (resp * diff * diff).sum(axis=1) / nk + reg_covar
        weights = nk / n if first else nk / nk.sum()
        return weights, means, 1.0 / np.sqrt(variances)

    def log_norm(params) -> tuple[np.ndarray, np.ndarray]:  # weighted log p (k, n), per row
        weights, means, prec = params
        z = y[None, :] * prec[:, None] - (means * prec)[:, None]
        weighted = -0.5 * (np.log(2 * np.pi) + z * z) + np.log(prec)[:, None] \
            + np.log(weights)[:, None]
        top = weighted.max(axis=0)
        return weighted, top + np.log(np.exp(weighted - top).sum(axis=0))

    params = m_step(resp, first=True)
    lower = -np.inf
    for _ in range(max_iter):
        prev = lower
        weighted, row = log_norm(params)
        params = m_step(np.exp(weighted - row), first=False)
        lower = float(row.mean())
        if abs(lower - prev) < tol:
            break
    return float(log_norm(params)[1].mean())


def _fences(values: np.ndarray) -> tuple[float, float]:
    q1, q3 = np.quantile(values, [0.25, 0.75])
    iqr = q3 - q1
    if iqr <= 0:
        # A spiky column (most values equal): fall back to a wide quantile range so the
        # minority values that carry the signal are not all clipped onto the spike.
        lo, hi = np.quantile(values, [0.005, 0.995])
        return float(min(lo, q1)), float(max(hi, q3))
    return float(q1 - 3 * iqr), float(q3 + 3 * iqr)


def _scale(values: np.ndarray) -> tuple[float, float]:
    center = float(np.median(values))
    scale = float(np.std(values))
    return center, (scale if scale > 1e-12 else 1.0)


MISSING_CHECK_MIN = 50  # gaps (and values) a column needs for its missingness to be tested


def _informative_missingness(
    col: str, missing: np.ndarray, others: dict[str, np.ndarray]
) -> bool:
    # Missingness is informative when rows lacking the value differ clearly on other columns
    # (standardized mean difference); completely random gaps add no segment signal.
    n_miss = int(missing.sum())
    if n_miss < MISSING_CHECK_MIN or n_miss > len(missing) - MISSING_CHECK_MIN:
        return False
    for name, vals in others.items():
        if name == col:
            continue
        a, b = vals[missing], vals[~missing]
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) < 30 or len(b) < 30:
            continue
        pooled = np.sqrt((a.var() + b.var()) / 2)
        if pooled > 0 and abs(a.mean() - b.mean()) / pooled > 0.5:
            return True
    return False


def fit_preparation(
    df: pd.DataFrame,
    roles: RoleReport,
    *,
    pca: Literal["auto"] | int | None = "auto",
    random_state: int = 0,
) -> Preparation:
    """Fit the preparation for the feature columns in ``roles``.

    Parameters
    ----------
    df : DataFrame
        The customer table.
    roles : RoleReport
        Column roles; only ``roles.features`` are used.
    pca : "auto", int or None
        "auto" adds PCA (90% of variance) only for wide tables (more than 40 prepared
        columns); an int keeps that many components; None never uses PCA.
    random_state : int
        Seed for the row sample used to fit statistics on big tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from copilot.segmentation.analysis.roles import infer_roles
    >>> df = pd.DataFrame({"spend": [1.0, 2.0, 40.0, 3.0], "plan": ["a", "b", "a", "a"]})
    >>> prep = fit_preparation(df, infer_roles(df))
    >>> prep.transform(df).shape
    (4, 3)
    """
    if not roles.features:
        raise DataError(
            "No column can be used as a segmentation feature (all are IDs, outcomes, constants "
            "or text); add numeric or categorical customer attributes, or override a role."
        )
    fit_df = df
    if len(df) > FIT_SAMPLE:
        fit_df = df.sample(FIT_SAMPLE, random_state=random_state)

    notes: list[str] = []
    final_steps = _fit_numeric_steps(fit_df, roles, notes)
    categorical_steps = [
        _fit_categorical(fit_df[name], name) for name in roles.features_with_role("categorical")
    ]
    categorical_steps = _mark_implied(fit_df, roles, categorical_steps, notes)
    prep = Preparation(numeric=tuple(final_steps), categorical=tuple(categorical_steps),
                       notes=tuple(notes))
    n_cols = len(prep.feature_names)
    if pca == "auto" and n_cols > 40 or isinstance(pca, int) and not isinstance(pca, bool):
        prep = _fit_pca(prep, fit_df, pca, random_state)
    return prep


def _fit_numeric_steps(fit_df: pd.DataFrame, roles: RoleReport, notes: list[str]
                       ) -> list[NumericStep]:
    """The steps of the numeric, boolean and datetime features, each with a missing-value
    indicator where missingness is informative; what was done is added to ``notes``."""
    numeric_steps: list[NumericStep] = []
    raws: dict[str, np.ndarray] = {}
    raw_missing: dict[str, np.ndarray] = {}
    names = [name for name in roles.features if roles.get(name).role != "categorical"]
    # One list of notes per column, joined in table order: the columns are fitted on the
    # engine's threads on a large table (quantiles of 200,000 values release the GIL).
    own_notes: list[list[str]] = [[] for _ in names]
    fits = run_all([partial(_fit_numeric, fit_df[name], name, roles.get(name).role, mine)
                    for name, mine in zip(names, own_notes, strict=True)],
                   threads=None if len(fit_df) >= PARALLEL_ROWS else 1)
    for name, fitted, mine in zip(names, fits, own_notes, strict=True):
        notes.extend(mine)
        if fitted is None:
            continue
        step, raw = fitted
        numeric_steps.append(step)
        raws[name] = raw
        raw_missing[name] = np.isnan(raw)
    # The prepared values are read only to test a column with enough gaps (see
    # _informative_missingness): a table with none is not transformed a second time here.
    n = len(fit_df)
    gappy = any(MISSING_CHECK_MIN <= int(m.sum()) <= n - MISSING_CHECK_MIN
                for m in raw_missing.values())
    transformed = ({step.name: _apply_numeric(raws[step.name], step) for step in numeric_steps}
                   if gappy else {})

    final_steps = []
    for step in numeric_steps:
        if _informative_missingness(step.name, raw_missing[step.name], transformed):
            step = step.model_copy(update={"missing_indicator": True})
            notes.append(f"{step.name}: missing values are informative, so an indicator was added.")
        final_steps.append(step)
    return final_steps


def _fit_numeric(series: pd.Series, name: str, role: str, notes: list[str]
                 ) -> tuple[NumericStep, np.ndarray] | None:
    """One feature's step (transform, fences, centre and scale) and its raw values; None, with
    a note, when it has no values."""
    true_value = reference = None
    if role == "boolean":
        true_value = _true_value(series)
    elif role == "datetime":
        reference = str(_naive_datetimes(series).max())
    probe = NumericStep(
        name=name, source=role, transform="none", true_value=true_value,
        reference_time=reference, clip_low=-np.inf, clip_high=np.inf, center=0.0, scale=1.0,
    )
    raw = _numeric_source(series, probe)
    present = raw[~np.isnan(raw)]
    if present.size == 0:
        notes.append(f"{name} has no values and was left out.")
        return None
    kind, lam = _choose_transform(present) if role != "boolean" else ("none", None)
    values = skew_transform(present, kind, lam)
    low, high = _fences(values) if role != "boolean" else (0.0, 1.0)
    center, scale = _scale(np.clip(values, low, high))
    if role == "boolean":
        center = float(values.mean())
    step = probe.model_copy(update={
        "transform": kind, "yeo_johnson_lambda": lam, "clip_low": low, "clip_high": high,
        "center": center, "scale": scale, "missing_share": float(np.isnan(raw).mean()),
    })
    if kind != "none":
        notes.append(f"{name}: skewed, so transformed with {kind}.")
    return step, raw


IMPLIED_MIN_SHARE = 0.01  # levels rarer than this are not worth the check


def _mark_implied(fit_df: pd.DataFrame, roles: RoleReport, steps: list[CategoricalStep],
                  notes: list[str]) -> list[CategoricalStep]:
    """Mark the levels that hold exactly the customers of a level of an earlier column.

    Real exports repeat a fact across columns ("No internet service" in six service columns,
    "No phone service" beside PhoneService = No). A segment model that treats columns as
    independent within a segment counts that fact once per column and spends segments on it.
    The first column (in table order) keeps it; in the others it reads as not applicable.
    """
    if not steps:
        return steps
    owners: dict[bytes, str] = {}  # a row set, as bytes -> "Column = level" that holds it
    features = set(roles.features)
    order = [c for c in fit_df.columns if c in features]
    n = len(fit_df)
    for name in order:
        role = roles.get(name).role
        if role not in ("categorical", "boolean"):
            continue
        text = fit_df[name].astype("string")
        counts = text.value_counts(dropna=True)
        step = next((s for s in steps if s.name == name), None)
        implied = []
        for level, count in counts.items():
            if count < IMPLIED_MIN_SHARE * n or count == n:
                continue
            key = np.packbits((text == level).to_numpy(dtype=bool, na_value=False)).tobytes()
            owner = owners.get(key)
            if owner is None:
                owners[key] = f"{name} = {level}"
            elif step is not None:
                implied.append(str(level))
                notes.append(f"{name}: '{level}' holds exactly the customers with {owner}, so it "
                             "is read as not applicable here (counted once, in the first column).")
        if step is not None and implied:
            steps = [s.model_copy(update={"implied": tuple(implied)}) if s.name == name else s
                     for s in steps]
    return steps


def _true_value(series: pd.Series) -> str:
    text = series.dropna().astype("string")
    values = sorted(text.unique().tolist())
    for v in values:
        if v.strip().lower() in {"yes", "true", "1", "1.0", "y", "t"}:
            return v
    return values[-1] if values else "True"


def _fit_categorical(series: pd.Series, name: str) -> CategoricalStep:
    text = series.astype("string").fillna(MISSING_LEVEL)
    shares = text.value_counts(normalize=True)
    kept = shares[shares >= RARE_LEVEL_SHARE].index[:MAX_LEVELS].tolist()
    levels = [str(v) for v in kept]
    if len(kept) < len(shares):
        levels.append(OTHER_LEVEL)
        text = text.where(text.isin(kept), OTHER_LEVEL)
    shares = text.value_counts(normalize=True).reindex(levels).fillna(0.0)
    p = shares.to_numpy(dtype=float)
    total_var = float(1.0 - (p**2).sum())
    weight = 1.0 / np.sqrt(total_var) if total_var > 1e-12 else 0.0
    return CategoricalStep(name=name, levels=tuple(levels), means=tuple(float(x) for x in p),
                           weight=weight)


def _fit_pca(prep: Preparation, df: pd.DataFrame, pca, random_state: int) -> Preparation:
    from sklearn.decomposition import PCA

    X = prep.transform(df, impute=True)
    if pca == "auto":
        model = PCA(n_components=0.9, svd_solver="full", random_state=random_state).fit(X)
        if model.n_components_ > 30:
            model = PCA(n_components=30, random_state=random_state).fit(X)
    else:
        model = PCA(n_components=min(int(pca), X.shape[1]), random_state=random_state).fit(X)
    step = PCAStep(
        n_components=int(model.n_components_),
        mean=tuple(float(v) for v in model.mean_),
        components=tuple(tuple(float(v) for v in row) for row in model.components_),
        explained_variance_ratio=tuple(float(v) for v in model.explained_variance_ratio_),
    )
    note = (f"PCA kept {step.n_components} components "
            f"({percent(sum(step.explained_variance_ratio), 0)} of the variance) for a wide table.")
    return prep.model_copy(update={"pca": step, "notes": prep.notes + (note,)})
