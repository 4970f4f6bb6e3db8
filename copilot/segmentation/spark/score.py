"""Every row scored in Spark by the saved model, through the local engine's own scoring.

``mapInPandas`` hands each Arrow batch to ``assign_table``, the function ``segment-copilot
assign`` runs on a local file: one scoring code for both engines, so a row gets the same
segment, confidence and holdout flag wherever it is scored. The outcome columns ride along as
the local engine reads them (``outcome_values``), for the Spark aggregates that test them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from copilot.core import InputError
from copilot.segmentation.analysis import DEFAULT_SALT, RoleReport
from copilot.segmentation.model import SavedModel, assign_table

#: Rows the driver scores before Spark does: a refusal (missing or retyped columns) is said at
#: once, in the engine's own sentence, not after a distributed job fails.
CHECK_ROWS = 20_000
OUTCOME_PREFIX = "__outcome_"
_CRM_COLUMNS = ("segment_name", "model_version", "assigned_at")


@dataclass(frozen=True)
class Scoring:
    """How to score: the model, this table's ID column, the outcomes to carry, and the CRM
    columns or only the segments."""

    model: SavedModel
    id_column: str | None  # None: the training table's ID column
    outcomes: tuple[str, ...] = ()
    roles: RoleReport | None = None
    crm: bool = True
    holdout_share: float = 0.1
    salt: str = DEFAULT_SALT

    @property
    def id_name(self) -> str:
        return self.id_column or self.model.info.id_column or "row"


def check_first_rows(frame: Any, scoring: Scoring) -> tuple[str, ...]:
    """Score the first rows on the driver: the engine's refusals raise here; its notes about
    them are returned."""
    head = frame.limit(CHECK_ROWS).toPandas()
    result = assign_table(scoring.model, head, holdout_share=scoring.holdout_share,
                          salt=scoring.salt, id_column=scoring.id_column)
    return result.notes


def output_schema(scoring: Scoring) -> str:
    fields = [f"`{scoring.id_name}` string", "segment int"]
    if scoring.crm:
        fields.append("segment_name string")
    fields += ["confidence double", "holdout boolean"]
    if scoring.crm:
        fields += ["model_version string", "assigned_at string"]
    fields += [f"`{OUTCOME_PREFIX}{i}` double" for i, _ in enumerate(scoring.outcomes)]
    return ", ".join(fields)


def score_rows(frame: Any, scoring: Scoring) -> Any:
    """A Spark DataFrame of ``frame``'s rows scored: the ID, ``segment``, ``confidence``,
    ``holdout`` (with ``crm``: ``segment_name``, ``model_version`` and one ``assigned_at`` for
    the whole run, as ``assign`` writes), and each outcome as ``__outcome_<i>`` floats."""
    from copilot.segmentation.spark.session import quiet_pandas_warning

    quiet_pandas_warning()  # mapInPandas checks the pandas version on the driver too
    assigned_at = datetime.now(UTC).isoformat(timespec="seconds")

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        from copilot.segmentation.analysis import outcome_values
        from copilot.segmentation.spark.session import quiet_pandas_warning

        quiet_pandas_warning()
        for chunk in batches:
            if not len(chunk):
                continue
            out = assign_table(scoring.model, chunk, holdout_share=scoring.holdout_share,
                               salt=scoring.salt, id_column=scoring.id_column).frame
            if scoring.crm:
                out["assigned_at"] = assigned_at
            else:
                out = out.drop(columns=list(_CRM_COLUMNS))
            for i, name in enumerate(scoring.outcomes):
                out[f"{OUTCOME_PREFIX}{i}"] = outcome_values(
                    chunk, scoring.roles.get(name)).to_numpy(dtype=float)
            out["segment"] = out["segment"].astype("int32")
            yield out

    return frame.mapInPandas(score, output_schema(scoring))


_RAISED = re.compile(r"copilot\.core\.errors\.\w+Error: (.+?)(?:\n|$)")


def engine_sentence(err: BaseException) -> InputError | None:
    """The engine's one-sentence refusal inside a failed Spark job (a Python worker raised an
    ``InputError``), as an ``InputError`` the CLI prints; None for any other failure."""
    found = _RAISED.search(str(err))
    return InputError(found.group(1).strip()) if found else None


@contextmanager
def refusals_as_sentences(scored) -> Iterator:
    """Work on the persisted ``scored`` rows: a worker's refusal comes out as the engine's one
    sentence, any other failure as it is, and the rows are released in every case."""
    try:
        yield scored
    except Exception as err:
        sentence = engine_sentence(err)
        if sentence is None:
            raise
        raise sentence from None
    finally:
        scored.unpersist()
