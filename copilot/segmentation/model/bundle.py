"""Saved models: a folder that assigns new customers to the segments it was trained with.

A bundle is a folder (``model/``) with two files:

- ``bundle.json``: format, version, a content ID, the creation time, the engine version, the
  recorded preparation, the algorithm, k, the segment names and rules, the training table's
  schema (columns, roles, kinds) and the feature distributions (for drift checks);
- ``arrays.npz``: the cluster model's numbers (centres, radii, mixture parameters), read with
  ``allow_pickle=False``.

Nothing in a bundle is executed: JSON is validated into typed models and the arrays are plain
numbers, so a hostile file can at worst be refused. The JSON records the SHA-256 of the array
file, so a changed or swapped array file is refused too, with one sentence.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_serializer

from copilot import __version__
from copilot.core import Frozen, InputError, atomic_write_bytes, atomic_write_text
from copilot.segmentation.analysis import (
    FittedClusters,
    Layout,
    MixedMixture,
    Preparation,
    RoleReport,
    Scope,
)
from copilot.segmentation.data import read_document

BUNDLE_FORMAT = "segment-copilot-model"
# Bump when the saved shape changes; older engines refuse newer bundles rather than guess.
BUNDLE_VERSION = 1
JSON_FILE, ARRAYS_FILE = "bundle.json", "arrays.npz"
_QUANTILES = tuple(i / 10 for i in range(11))


class ColumnSchema(Frozen):
    name: str
    role: str  # numeric, categorical, boolean, datetime, outcome, id, or a left-out role
    dtype: str


class FeatureDistribution(Frozen):
    """A training feature's distribution: deciles for numbers, level shares for categories.

    Numeric features also keep ``bin_shares``: the exact share of the training values in each
    bin between the deciles (``bin_edges``), because a column with many tied values (counts,
    shares with many zeros) does not put a tenth of its values in each bin, and the deciles
    alone cannot say how far from a tenth it is. ``n_rows`` is the training table's row count
    (the sampling noise of a comparison depends on it). Both are absent from bundles saved
    before they existed, and are then left out of the JSON, so those bundles keep their ID.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    quantiles: tuple[float, ...] = ()  # the 0, 10, ..., 100th percentiles (numeric)
    levels: dict[str, float] = Field(default_factory=dict)  # level -> share of non-missing values (categorical)
    missing_share: float = 0.0
    bin_shares: tuple[float, ...] = ()  # share of the present values per bin of bin_edges
    n_rows: int | None = None

    @staticmethod
    def edges_from_quantiles(quantiles: tuple[float, ...] | np.ndarray) -> np.ndarray:
        """Cut points between bins: the interior deciles, ties merged (a spike is one bin)."""
        q = np.asarray(quantiles, dtype=float)
        return np.unique(q[1:-1]) if len(q) > 2 else np.array([], dtype=float)

    @staticmethod
    def shares_in_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Share of the present ``values`` in each bin (-inf, e1], (e1, e2], ..., (e_last, inf)."""
        values = np.asarray(values, dtype=float)
        values = values[~np.isnan(values)]
        if not len(values):
            return np.zeros(len(edges) + 1)
        counts = np.bincount(np.searchsorted(edges, values, side="left"),
                             minlength=len(edges) + 1)
        return counts / len(values)

    @property
    def bin_edges(self) -> np.ndarray:
        return self.edges_from_quantiles(self.quantiles)

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler) -> dict[str, Any]:
        # A field added later is left out while unset, so an older bundle re-dumps (and
        # hashes into its bundle_id) exactly as it was written.
        data = handler(self)
        if not self.bin_shares:
            data.pop("bin_shares", None)
        if self.n_rows is None:
            data.pop("n_rows", None)
        return data


class BundleInfo(Frozen):
    """``bundle.json``."""

    format: Literal["segment-copilot-model"] = BUNDLE_FORMAT
    version: int = BUNDLE_VERSION
    bundle_id: str
    created_at: str
    engine_version: str
    algorithm: str
    k: int
    id_column: str | None
    preparation: Preparation
    schema_: tuple[ColumnSchema, ...]
    features: tuple[str, ...]
    distributions: tuple[FeatureDistribution, ...]
    names: dict[int, str]
    rules: dict[int, str]
    segment_shares: dict[int, float]
    mixture_layout: dict[str, Any] | None = None
    mixture_levels: tuple[int, ...] | None = None
    mixture_dof: float | None = None
    mixture_temperature: float = 1.0
    arrays_sha256: str
    # The customers the model was trained on, when not all (a goal's "month-to-month
    # customers"): assign marks the others out of scope, drift leaves them out.
    scope: Scope | None = None


class SavedModel:
    """A loaded bundle: ``assign(df)`` gives each row's segment and confidence."""

    def __init__(self, info: BundleInfo, model: FittedClusters) -> None:
        self.info = info
        self.model = model

    def assign(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Segment (-1 = unassigned) and confidence (0-1) per row of ``df``.

        Raises ``InputError`` naming the training columns ``df`` lacks.
        """
        missing = [c for c in self.info.preparation.input_columns if c not in df.columns]
        if missing:
            raise InputError(f"The table lacks column(s) the model was trained on: "
                             f"{', '.join(missing)}; supply a table with the same columns.")
        X = self.info.preparation.transform(df)
        return self.model.assign(X)


def save_bundle(run, folder: str | Path, *, names: dict[int, str] | None = None,
                df: pd.DataFrame | None = None) -> Path:
    """Write ``run``'s model as a bundle folder; return its path.

    ``run`` is a ``SegmentationRun`` (the analysis, the per-row labels and the fitted model);
    ``names`` are the segment names (default: "Segment N"); ``df``, the training table, adds
    the feature distributions that drift checks compare against.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise InputError(f"The model path {out} is a file; give a folder for the model.")
    a, model = run.analysis, run.model
    arrays = _model_arrays(model)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    blob = buffer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    segments = [s.segment for s in a.sizes if s.segment >= 0]
    info_fields: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine_version": __version__,
        "algorithm": a.choice.algorithm,
        "k": a.choice.k,
        "id_column": a.id_column,
        "preparation": a.preparation,
        "schema_": tuple(ColumnSchema(name=c.name, role=c.role, dtype=c.dtype)
                         for c in a.roles.columns),
        "features": a.roles.features,
        "distributions": feature_distributions(df, a.roles) if df is not None else (),
        "names": {s: (names or {}).get(s, f"Segment {s}") for s in segments},
        "rules": {r.segment: r.rules[0].text for r in a.rules.segments if r.rules},
        "segment_shares": {s.segment: s.share for s in a.sizes},
        "arrays_sha256": digest,
    }
    if a.scope is not None:  # only then: older bundles keep their content IDs
        info_fields["scope"] = a.scope.scope
    mixture = model.mixture
    if isinstance(mixture, MixedMixture):
        info_fields["mixture_layout"] = asdict(mixture.layout)
        info_fields["mixture_levels"] = tuple(mixture.n_levels)
        info_fields["mixture_dof"] = mixture.dof
        info_fields["mixture_temperature"] = mixture.temperature
    info_fields["bundle_id"] = _content_id(info_fields)
    return _write(out, info_fields, blob)


def rename_bundle(folder: str | Path, names: dict[int, str]) -> BundleInfo:
    """Give a saved model's segments new names (a new ``bundle_id``, as the CRM labels change);
    the arrays are untouched. Returns the new ``bundle.json`` contents."""
    model = load_bundle(folder)
    fields = model.info.model_dump(mode="json")
    fields["names"] = {**fields["names"], **{str(k): v for k, v in names.items()}}
    fields.pop("bundle_id")
    fields["bundle_id"] = _content_id(fields)
    info = BundleInfo.model_validate(fields)
    atomic_write_text(Path(folder) / JSON_FILE, info.model_dump_json(indent=2))
    return info


def _content_id(info_fields: dict[str, Any]) -> str:
    # The ID hashes what decides assignments (preparation, arrays, names), not the time. It is
    # taken over the validated model's JSON, so a re-read bundle hashes exactly as written.
    fields = {**_jsonable(info_fields), "bundle_id": "-"}
    dumped = BundleInfo.model_validate(fields).model_dump(mode="json",
                                                          exclude={"created_at", "bundle_id"})
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]


def save_bundle_with_data(run, df: pd.DataFrame, folder: str | Path, *,
                          names: dict[int, str] | None = None) -> Path:
    """``save_bundle`` with the training features' distributions (for drift checks)."""
    return save_bundle(run, folder, names=names, df=df)


def _write(out: Path, info_fields: dict[str, Any], blob: bytes) -> Path:
    info = BundleInfo.model_validate(_jsonable(info_fields))
    # Arrays first: a bundle.json that exists always points at a complete array file.
    atomic_write_bytes(out / ARRAYS_FILE, blob)
    atomic_write_text(out / JSON_FILE, info.model_dump_json(indent=2))
    return out


def feature_distributions(df: pd.DataFrame, roles: RoleReport) -> tuple[FeatureDistribution, ...]:
    """What a drift check compares a new snapshot with: per feature, the deciles and exact bin
    shares (numeric) or the level shares (categorical), the missing share and the row count."""
    out = []
    for name in roles.features:
        column = roles.get(name)
        s = df[name]
        missing = float(s.isna().mean()) if len(s) else 0.0
        if column.role == "numeric":
            values = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)
            q = tuple(float(v) for v in np.quantile(values, _QUANTILES)) if len(values) else ()
            # Binned exactly as a drift check bins a new snapshot: from the stored deciles.
            edges = FeatureDistribution.edges_from_quantiles(q)
            bins = FeatureDistribution.shares_in_bins(values, edges) if len(values) else ()
            out.append(FeatureDistribution(name=name, kind="numeric", quantiles=q,
                                           missing_share=missing, n_rows=len(df),
                                           bin_shares=tuple(float(v) for v in bins)))
        else:
            shares = s.dropna().astype(str).value_counts(normalize=True).head(50)
            out.append(FeatureDistribution(name=name, kind="categorical",
                                           levels={str(k): float(v) for k, v in shares.items()},
                                           missing_share=missing, n_rows=len(df)))
    return tuple(out)


def model_folder(path: str | Path) -> Path:
    """The folder holding a model's files, given the folder, its ``bundle.json``, or the
    segment/demo/session folder that holds it as ``model/``."""
    folder = Path(path)
    if folder.name == JSON_FILE:
        return folder.parent
    if not (folder / JSON_FILE).is_file() and (folder / "model" / JSON_FILE).is_file():
        return folder / "model"
    return folder


def load_bundle(path: str | Path) -> SavedModel:
    """Read a bundle folder (or its ``bundle.json``); one clear sentence for anything wrong."""
    if Path(path).is_file() and Path(path).name != JSON_FILE:
        raise InputError(f"{path} is a file, not a saved model; give the model/ folder segment "
                         "--out-dir wrote (the model comes before the data).")
    folder = model_folder(path)
    json_path, arrays_path = folder / JSON_FILE, folder / ARRAYS_FILE
    raw = read_document(json_path, what="model", fmt=BUNDLE_FORMAT, version_key="version",
                        max_version=BUNDLE_VERSION,
                        find="give the model folder that segment --out-dir wrote",
                        fix="save the model again")
    try:
        info = BundleInfo.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The model file {json_path} is damaged ({field}: "
                         f"{first['msg'].lower()}); save the model again.") from None
    if _content_id(info.model_dump(mode="json")) != info.bundle_id:
        # The ID is a hash of the content: an edited bundle.json (names, k, preparation) would
        # assign differently under the same model version.
        raise InputError(f"The model file {json_path} was changed after it was saved (its "
                         "content no longer matches its ID); save the model again.")
    try:
        blob = arrays_path.read_bytes()
    except OSError:
        raise InputError(f"The model in {folder} lacks {ARRAYS_FILE}; save the model "
                         "again.") from None
    if hashlib.sha256(blob).hexdigest() != info.arrays_sha256:
        raise InputError(f"The model's {ARRAYS_FILE} in {folder} does not match its "
                         f"{JSON_FILE} (changed or corrupted); save the model again.")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model = _model_from(info, arrays)
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"The model's arrays in {folder} are unreadable "
                         f"({type(err).__name__}); save the model again.") from None
    wrong = _disagreement(info, arrays)
    if wrong:  # a re-sealed bundle (k=50 over 3 centres) would assign nonsense, or crash
        raise InputError(f"The model in {folder} does not add up ({wrong}); save the model "
                         "again.")
    return SavedModel(info, model)


def _disagreement(info: BundleInfo, arrays: dict[str, np.ndarray]) -> str | None:
    """What in ``bundle.json`` and the arrays contradicts the rest, in words; None if nothing."""
    centers = arrays.get("centers")
    width = len(info.preparation.output_names)
    if centers is None or centers.ndim != 2:
        return "its centres are not a table"
    if centers.shape != (info.k, width):
        return (f"it says k={info.k} over {width} prepared columns but holds "
                f"{centers.shape[0]} centres of {centers.shape[1] if centers.ndim == 2 else 0}")
    if not np.isfinite(centers).all():
        return "its centres hold values that are not numbers"
    if sorted(info.names) != list(range(info.k)):
        return f"it names segments {sorted(info.names)} for k={info.k}"
    for name in ("radius", "mixture_weights", "mixture_means", "mixture_variances"):
        if name in arrays and (arrays[name].ndim == 0 or arrays[name].shape[0] != info.k):
            return f"its {name.replace('_', ' ')} do not have one entry per segment"
    if info.features and set(info.features) - {s.name for s in info.schema_}:
        return "its features are not among its columns"
    return None


def _model_arrays(model: FittedClusters) -> dict[str, np.ndarray]:
    arrays = {"centers": np.asarray(model.centers, dtype=float)}
    if model.radius is not None:
        arrays["radius"] = np.asarray(model.radius, dtype=float)
    if model.order is not None:
        arrays["order"] = np.asarray(model.order, dtype=int)
    if model.reach is not None:
        arrays["reach"] = np.asarray(model.reach, dtype=float)
    if model.min_loglik is not None:
        arrays["min_loglik"] = np.asarray([model.min_loglik], dtype=float)
    mixture = model.mixture
    if mixture is not None:
        if not isinstance(mixture, MixedMixture):
            raise TypeError(f"cannot save a {type(mixture).__name__} mixture")
        for name in ("weights", "means", "variances", "log_theta"):
            arrays[f"mixture_{name}"] = np.asarray(getattr(mixture, name), dtype=float)
    return arrays


def _model_from(info: BundleInfo, arrays: dict[str, np.ndarray]) -> FittedClusters:
    mixture = None
    if info.mixture_layout is not None:
        layout = Layout(
            continuous=tuple(info.mixture_layout["continuous"]),
            categorical=tuple(tuple(b) for b in info.mixture_layout["categorical"]),
            cuts=tuple(info.mixture_layout.get("cuts", ())),
            spikes=tuple((int(c), float(v)) for c, v in info.mixture_layout.get("spikes", ())),
        )
        mixture = MixedMixture(
            weights=arrays["mixture_weights"], means=arrays["mixture_means"],
            variances=arrays["mixture_variances"], log_theta=arrays["mixture_log_theta"],
            n_levels=tuple(info.mixture_levels or ()), layout=layout, dof=info.mixture_dof,
            temperature=info.mixture_temperature)
    return FittedClusters(
        algorithm=info.algorithm, k=info.k, centers=arrays["centers"],
        labels=np.zeros(0, dtype=int), radius=arrays.get("radius"), mixture=mixture,
        order=arrays.get("order"), reach=arrays.get("reach"),
        min_loglik=float(arrays["min_loglik"][0]) if "min_loglik" in arrays else None)


def _jsonable(value: Any) -> Any:
    """Pydantic models and tuples as plain JSON values (for hashing and validation)."""
    if isinstance(value, Frozen):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
