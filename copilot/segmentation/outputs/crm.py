"""Segment assignments as a CSV a CRM imports: column names and value formats per CRM.

The input is the CRM frame ``assign_table`` gives (or ``crm_frame`` builds from a segmentation's
own assignments): the customer ID column, ``segment``, ``segment_name``, ``confidence``,
``holdout``, ``model_version`` and ``assigned_at``. A preset renames those columns and formats
the values the way the CRM's importer reads them. Every value is written as text, and IDs stay
exactly as the customer table had them: no ``17850.0`` for a whole-number ID that pandas read as
a float, no lost leading zeros (``00123`` stays ``00123``).

Presets and why
---------------
``generic``
    ``customer_id, segment_id, segment_name, confidence, holdout, model_version, assigned_at``;
    booleans ``true``/``false``; the time stamp in ISO 8601 UTC (``2025-03-01T09:30:00Z``), which
    spreadsheets, warehouses and most import tools read.
``hubspot``
    HubSpot maps import columns to properties by name, and custom properties have lowercase
    internal names with underscores, so the columns are those internal names:
    ``customer_id, segment_id, segment_name, segment_confidence, segment_holdout,
    segment_model_version, segment_assigned_at`` (the ``segment_`` prefix keeps them together
    and clear of HubSpot's default properties). Create them as custom properties first (single
    checkbox for ``segment_holdout``, number for ``segment_confidence`` and ``segment_id``, date
    picker for ``segment_assigned_at``). A single checkbox takes ``true``/``false``. Date picker
    properties hold a date only (HubSpot refuses a time that is not midnight UTC; date-time
    properties can only be created through its API), so ``segment_assigned_at`` is the UTC date
    ``YYYY-MM-DD``: choose the year-month-day date format in the import (``YEAR_MONTH_DAY`` in
    the imports API). Match records on ``customer_id`` made a unique-value property, or add the
    e-mail or Record ID column yourself.
``salesforce``
    Salesforce custom fields have API names ending in ``__c`` (a field labelled "Hire Date" is
    ``Hire_Date__c``), and Data Loader and the Data Import Wizard map columns by API name, so
    the columns are ``Customer_ID__c, Segment_ID__c, Segment_Name__c, Segment_Confidence__c,
    Segment_Holdout__c, Segment_Model_Version__c, Segment_Assigned_At__c``. Make
    ``Customer_ID__c`` an External ID field and upsert on it. Checkboxes take ``true``/``false``;
    Date/Time fields take ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`` (``2025-03-01T09:30:00.000Z``), one of
    Data Loader's documented formats.

Unassigned customers keep their row (segment ``-1``, named "unassigned" or "unscored"), so the
CRM can tell them from customers who were never exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from copilot.core import Frozen, InputError, atomic_write_text
from copilot.segmentation.analysis import DEFAULT_SALT, holdout_flags
from copilot.segmentation.data import ids_as_text
from copilot.segmentation.outputs.export import csv_text

#: The CRM frame's columns after the ID column, in order.
FRAME_COLUMNS = ("segment", "segment_name", "confidence", "holdout", "model_version",
                 "assigned_at")
#: Confidence is a probability-like number: four decimals tell 0.9871 from 0.9904 and no more.
CONFIDENCE_DECIMALS = 4


class CrmPreset(Frozen):
    """How one CRM wants the file: a header per frame column and value formats."""

    name: str
    columns: tuple[str, str, str, str, str, str, str]  # id, then FRAME_COLUMNS' names
    true_text: str
    false_text: str
    timestamp: Literal["iso-seconds", "iso-millis", "date"]
    hint: str  # one sentence on how to import the file


PRESETS: dict[str, CrmPreset] = {
    "generic": CrmPreset(
        name="generic",
        columns=("customer_id", "segment_id", "segment_name", "confidence", "holdout",
                 "model_version", "assigned_at"),
        true_text="true", false_text="false", timestamp="iso-seconds",
        hint="Plain CSV: ISO 8601 UTC time stamps and true/false holdout flags."),
    "hubspot": CrmPreset(
        name="hubspot",
        columns=("customer_id", "segment_id", "segment_name", "segment_confidence",
                 "segment_holdout", "segment_model_version", "segment_assigned_at"),
        true_text="true", false_text="false", timestamp="date",
        hint="In HubSpot, create these custom properties first (segment_holdout a single "
             "checkbox, segment_assigned_at a date picker) and choose the year-month-day date "
             "format when importing."),
    "salesforce": CrmPreset(
        name="salesforce",
        columns=("Customer_ID__c", "Segment_ID__c", "Segment_Name__c", "Segment_Confidence__c",
                 "Segment_Holdout__c", "Segment_Model_Version__c", "Segment_Assigned_At__c"),
        true_text="true", false_text="false", timestamp="iso-millis",
        hint="In Salesforce, create these custom fields first (Customer_ID__c as an External "
             "ID, Segment_Holdout__c a checkbox, Segment_Assigned_At__c a Date/Time) and upsert "
             "on Customer_ID__c."),
}


def get_preset(name: str) -> CrmPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"There is no CRM preset named {name!r}; choose "
                         f"{', '.join(PRESETS)}.") from None


def crm_frame(ids, segments, confidence, *, names: dict[int, str], model_version: str,
              assigned_at: str, id_column: str = "customer_id", holdout_share: float = 0.1,
              salt: str = DEFAULT_SALT) -> pd.DataFrame:
    """The CRM frame (as ``assign_table`` gives it) from a segmentation's own assignments.

    ``segments`` are the segment numbers (-1 = unassigned); ``names`` maps them to names;
    the holdout flag is the hash of each ID, exactly as ``assign_table`` draws it.
    """
    ids = ids_as_text(ids)
    segments = np.asarray(segments, dtype=int)
    labels = {**{int(k): v for k, v in names.items()}, -1: "unassigned"}
    return pd.DataFrame({
        id_column: ids.to_numpy(dtype=object),
        "segment": segments,
        "segment_name": pd.Series(segments).map(labels).fillna("unassigned").to_numpy(),
        "confidence": np.round(np.asarray(confidence, dtype=float), CONFIDENCE_DECIMALS),
        "holdout": holdout_flags(ids.to_numpy(dtype=object), segments, share=holdout_share,
                                 salt=salt),
        "model_version": model_version,
        "assigned_at": assigned_at,
    })


def format_for_crm(frame: pd.DataFrame, preset: str | CrmPreset = "generic") -> pd.DataFrame:
    """``frame`` with the preset's column names and every value as text in its format.

    Parameters
    ----------
    frame : DataFrame
        The CRM frame: the ID column first, then ``FRAME_COLUMNS``.
    preset : str or CrmPreset
        ``generic``, ``hubspot`` or ``salesforce``.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["007"], "segment": [2], "segment_name": ["Loyal"],
    ...                   "confidence": [0.91234], "holdout": [True], "model_version": ["ab12"],
    ...                   "assigned_at": ["2025-03-01T09:30:00+00:00"]})
    >>> format_for_crm(f, "salesforce").iloc[0].tolist()
    ['007', '2', 'Loyal', '0.9123', 'true', 'ab12', '2025-03-01T09:30:00.000Z']
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing or len(frame.columns) < len(FRAME_COLUMNS) + 1:
        raise ValueError(f"not a CRM frame: lacks {missing or 'an ID column'}")
    id_column = next(c for c in frame.columns if c not in FRAME_COLUMNS)
    confidence = pd.to_numeric(frame["confidence"], errors="coerce")
    out = pd.DataFrame({
        p.columns[0]: ids_as_text(frame[id_column]).to_numpy(dtype=object),
        p.columns[1]: pd.to_numeric(frame["segment"]).astype(int).astype(str).to_numpy(),
        p.columns[2]: frame["segment_name"].astype(str).to_numpy(),
        p.columns[3]: [("" if pd.isna(c) else f"{c:.{CONFIDENCE_DECIMALS}f}") for c in confidence],
        p.columns[4]: np.where(frame["holdout"].astype(bool), p.true_text, p.false_text),
        p.columns[5]: frame["model_version"].astype(str).to_numpy(),
        p.columns[6]: _timestamps(frame["assigned_at"], p.timestamp),
    })
    return out


def crm_csv(frame: pd.DataFrame, preset: str | CrmPreset = "generic") -> str:
    """The CSV text of ``format_for_crm`` (UTF-8, comma separated, one header row)."""
    return csv_text(format_for_crm(frame, preset), lineterminator="\n")


def write_crm_csv(frame: pd.DataFrame, path: str | Path,
                  preset: str | CrmPreset = "generic") -> Path:
    """Write the CRM CSV atomically (the old file, if any, stays until the new one is whole)."""
    return atomic_write_text(path, crm_csv(frame, preset))


def _timestamps(values: pd.Series, kind: str) -> np.ndarray:
    # A file usually holds one time stamp: format each distinct value once.
    distinct = pd.Series(pd.unique(values.astype(str)))
    formatted = dict(zip(distinct, _format_times(distinct, kind), strict=True))
    return values.astype(str).map(formatted).to_numpy(dtype=object)


def _format_times(values: pd.Series, kind: str) -> np.ndarray:
    when = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    if kind == "date":
        text = when.dt.strftime("%Y-%m-%d")
    elif kind == "iso-millis":
        text = when.dt.strftime("%Y-%m-%dT%H:%M:%S.") + (
            when.dt.microsecond // 1000).map(lambda ms: f"{int(ms):03d}Z" if pd.notna(ms) else "")
    else:
        text = when.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.fillna("").to_numpy(dtype=object)
