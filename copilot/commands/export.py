"""The ``export`` command: segment IDs as a CRM-ready CSV, and the versioned segment glossary.

SOURCE is one of:

- a folder ``segment --out-dir`` or ``demo`` wrote (``assignments.csv``, ``analysis.json``,
  ``model/``, ``writing.json`` when an LLM named the segments): its customers are exported;
- a chat/ask session folder (``session.json``): its customers, with the session's names
  (the user's renames included);
- a saved model folder (``bundle.json``) with ``--data``: the table is assigned, then exported.
  ``--data`` with either folder above assigns the table with that folder's ``model/``.

``--glossary DIR`` also writes the glossary there: version N+1 against the version already in
DIR (matched by customers, from the snapshot each version saves beside it), or version 1. A
re-export that changes nothing keeps the current version. A DIR whose glossary was built on
another table (too few features in common) is refused. ``--owner`` needs ``--glossary``.

Which name wins: with ``--glossary``, the glossary's. The CSV and the glossary always agree:
a segment that continues a named one of the previous version keeps that name unless the
source gives it a real one (names stay unique; see ``copilot.segmentation.outputs.glossary``). That
name may differ from the saved model's, which ``assign`` writes: the export then says so in a
note. Without ``--glossary`` the CSV has the source's names.

Everything is read and checked before anything is written, so a bad input leaves existing
files as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from copilot.commands.options import out_table_options, source_options
from copilot.core import InputError

NAME = "export"
PRESET_NAMES = ("generic", "hubspot", "salesforce")


def add_parser(sub) -> None:
    """Register ``export`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        NAME, help="export segment IDs as a CRM-ready CSV (and a versioned glossary)",
        description="Write each customer's segment ID, name, confidence, holdout flag, model "
        "version and assignment time as a CSV a CRM imports. SOURCE is a folder written by "
        "'segment --out-dir' or 'demo', a chat/ask session folder, or a saved model folder "
        "with --data (the table is assigned first). With --glossary DIR, also write the "
        "segment glossary (glossary.md, glossary.json and glossary-vN.json) there, as the "
        "next version of the one already in DIR, listing what changed (renamed, merged, "
        "split, resized, new, retired, owner). With --glossary the CSV takes the glossary's "
        "names, which a segment continuing a named one keeps.",
        epilog="Presets: generic (customer_id, segment_id, ...; ISO 8601 UTC times), hubspot "
        "(lowercase custom-property names such as segment_holdout; true/false; dates as "
        "YYYY-MM-DD), salesforce (custom-field API names such as Segment_Holdout__c; "
        "true/false; times as 2025-03-01T09:30:00.000Z). IDs are written as text, exactly as "
        "in the table.")
    p.add_argument("source", help="a segment/demo output folder, a session folder, or a saved "
                   "model folder (with --data)")
    p.add_argument("--out", metavar="FILE", help="the CSV to write (.csv)")
    p.add_argument("--preset", choices=PRESET_NAMES, default="generic",
                   help="column names and formats for the CRM (default: generic)")
    p.add_argument("--data", metavar="DATA", help="assign this customer table (a file, or a "
                   "database URL with --query or --table) with the saved model and export it "
                   "(instead of the customers the segments were built on)")
    source_options(p)
    out_table_options(p, default_db="the database of --data, else the one the "
                                  "segments were built from")
    p.add_argument("--glossary", metavar="DIR", help="also write or update the versioned "
                   "segment glossary in this folder")
    p.add_argument("--owner", action="append", default=[], metavar="SEGMENT=NAME",
                   help="the strategy owner of a segment in the glossary, e.g. 2='Jane Doe' "
                   "(needs --glossary; repeatable; owners carry over to later versions)")
    p.add_argument("--holdout-share", type=float, default=0.1,
                   help="share of each segment flagged as the control group (default 0.1)")
    p.add_argument("--salt", default="segment-copilot-holdout",
                   help="names the experiment: the same salt gives the same holdout group")


@dataclass
class _Source:
    """What a SOURCE folder offers the export."""

    kind: str  # "segment output", "session", "model"
    frame: object = None  # the CRM frame (pandas DataFrame)
    analysis: object = None  # SegmentAnalysis, when the folder has one
    names: dict[int, str] = field(default_factory=dict)  # real names only (not "Segment N")
    definitions: dict[int, str] = field(default_factory=dict)
    assignments: object = None  # pandas Series: ID -> segment the analysis describes
    model_version: str = ""
    inputs: list[Path] = field(default_factory=list)  # files the export reads
    notes: list[str] = field(default_factory=list)
    has_ids: bool = True


@dataclass(frozen=True)
class ExportRequest:
    """What an export is asked for, typed: the command line's arguments, or the demo's."""

    source: Path  # a segment/demo output folder, a session folder, or a saved model folder
    out: Path | None  # the CSV to write (None: out_table)
    preset: str = "generic"
    data: str | Path | None = None  # a table (file or database URL) to assign and export
    query: str | None = None  # with a database URL as data: the SQL, or
    table: str | None = None  # the table
    out_table: str | None = None  # a database table to write instead of ``out``
    out_db: str | None = None  # its database (default: data's, else the segmented table's)
    glossary: Path | None = None  # also write or update the glossary in this folder
    owner: tuple[str, ...] = ()  # "SEGMENT=NAME", a segment's owner in the glossary
    holdout_share: float = 0.1
    salt: str = "segment-copilot-holdout"


def run(args: argparse.Namespace) -> int:
    """``segment-copilot export`` with parsed ``args``."""
    return export_segments(ExportRequest(
        source=Path(args.source), out=Path(args.out) if args.out else None, preset=args.preset,
        data=args.data or None, query=args.query, table=args.table,
        out_table=args.out_table, out_db=args.out_db,
        glossary=Path(args.glossary) if args.glossary else None, owner=tuple(args.owner),
        holdout_share=args.holdout_share, salt=args.salt))


def export_segments(args: ExportRequest) -> int:
    """Write the CRM file (and the glossary) ``args`` asks for; print the summary; return the
    exit code. Everything is read and checked before anything is written."""
    from copilot.segmentation import get_preset
    from copilot.workflow import write_crm

    preset = get_preset(args.preset)
    if args.out and (args.out_table or args.out_db):
        raise InputError("Give either --out FILE or --out-table NAME, not both; each writes "
                         "the whole export.")
    if not args.out and not args.out_table:
        raise InputError("export needs somewhere to write: add --out FILE.csv or --out-table "
                         "NAME." if not args.out_db else "--out-db names the database for "
                         "--out-table, which is missing; add --out-table NAME.")
    out = _check_out(Path(args.out)) if args.out else None
    if (args.query or args.table) and not args.data:
        flag = "--query" if args.query else "--table"
        raise InputError(f"{flag} says what to read from the database given as --data, which "
                         "is missing; add --data URL, or drop it.")
    if args.owner and not args.glossary:
        # Owners live in the glossary only: without one they would be dropped silently.
        raise InputError("--owner sets a segment's owner in the glossary, so it needs "
                         "--glossary DIR; add --glossary or drop --owner.")
    owners = _owners(args.owner)
    source = _read_source(Path(args.source), args)
    if not source.has_ids:
        # Row numbers name no customer: matching versions by them would pair strangers.
        source.assignments = None
    target = _table_target(args, source) if out is None else None
    for path in source.inputs if out is not None else ():
        if _same_file(path, out):
            raise InputError(f"--out {out} is one of the export's inputs; write the CSV to "
                             "another file.")
    glossary_plan = _plan_glossary(source, args, owners) if args.glossary else None
    frame = source.frame
    if glossary_plan is not None:
        names = {e.segment: e.name for e in glossary_plan.glossary.entries}
        assigned = frame["segment"] >= 0
        # What the saved model calls them (the given names, else "Segment N"), not the drafts
        # the CSV shows without a glossary: the note is about what assign will write.
        before = {int(s): source.names.get(int(s), f"Segment {int(s)}")
                  for s in frame.loc[assigned, "segment"].unique()}
        frame.loc[assigned, "segment_name"] = frame.loc[assigned, "segment"].map(names).fillna(
            frame.loc[assigned, "segment_name"])
        note = _names_note(before, names, source, out or args.out_table,
                          glossary_plan.glossary)
        if note:
            source.notes.append(note)
    for note in source.notes:
        sys.stderr.write(f"note: {note}\n")

    if glossary_plan is not None:
        from copilot.workflow import publish_glossary

        publish_glossary(glossary_plan)
    if target is None:
        write_crm(frame, out, preset)
        where = str(out)
    else:
        from copilot.segmentation import crm_arrow, write_table

        where = write_table(*target, crm_arrow(frame, preset.columns),
                            what=f"CRM export ({preset.name}), model "
                            f"{source.model_version or 'unknown'}").describe()
    _report(frame, where, preset, source, glossary_plan, args)
    return 0


def _table_target(args: ExportRequest, source: _Source) -> tuple[str, str]:
    """(database URL, table) for --out-table: --out-db, else the database --data came from,
    else the one the segments were built from (named without its password, so it connects
    with PGPASSWORD or ~/.pgpass)."""
    from copilot.segmentation import check_out_table, is_database_url

    data = str(args.data) if args.data else ""
    if is_database_url(data):
        return check_out_table(args.out_db, args.out_table, input_url=data,
                               input_table=args.table)
    built_from = dict(getattr(source.analysis, "source", None) or {})
    url = str(built_from.get("path", ""))
    if not is_database_url(url):
        return check_out_table(args.out_db, args.out_table)
    return check_out_table(args.out_db, args.out_table, input_url=url,
                           input_table=built_from.get("table"))


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def _check_out(out: Path) -> Path:
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name such as segments.csv.")
    if out.suffix.lower() != ".csv":
        raise InputError(f"--out {out} does not end in .csv; the export is a CSV file, so name "
                         "it like segments.csv.")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise InputError(f"Cannot write to the folder {parent}; choose a writable place for "
                         "--out.")
    return out


def _owners(items: list[str]) -> dict[int, str]:
    owners: dict[int, str] = {}
    for item in items:
        seg, sep, name = item.partition("=")
        try:
            number = int(seg.strip())
        except ValueError:
            number = None
        if not sep or number is None or not name.strip():
            raise InputError(f"--owner {item!r} is not SEGMENT=NAME; give the segment number and "
                             "the owner, like --owner '2=Jane Doe'.")
        owners[number] = " ".join(name.split())
    return owners


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _read_source(path: Path, args: ExportRequest) -> _Source:
    if not path.exists():
        raise InputError(f"{path} does not exist; give the folder segment --out-dir, demo or a "
                         "session wrote, or a saved model folder.")
    if path.is_file() and path.name in ("session.json", "bundle.json", "analysis.json"):
        path = path.parent
    if not path.is_dir():
        raise InputError(f"{path} is a file; give the folder segment --out-dir, demo or a "
                         "session wrote, or a saved model folder.")
    if (path / "anchored.json").is_file():
        return _from_anchored(path, args)
    if (path / "session.json").is_file():
        source = _from_session(path)
    elif (path / "bundle.json").is_file():
        if not args.data:
            raise InputError(f"{path} is a saved model without customers; add --data TABLE to "
                             "assign a table with it and export that.")
        source = _Source(kind="model")
        return _assign(source, path, args)
    elif (path / "analysis.json").is_file() or (path / "assignments.csv").is_file():
        source = _from_segment_output(path)
    else:
        raise InputError(f"{path} holds no segments (no assignments.csv, session.json or "
                         "bundle.json); give the folder segment --out-dir, demo or a session "
                         "wrote.")
    if args.data:
        model = path / "model"
        if not (model / "bundle.json").is_file():
            raise InputError(f"{path} has no saved model (model/ is missing), so it cannot "
                             "assign --data; export without --data, or run segment again.")
        return _assign(source, model, args)
    return _own_customers(source, path, args)


def _from_anchored(path: Path, args: ExportRequest) -> _Source:
    """A segmentation within each level of an anchor: every customer with their combined
    segment ("Retail / Segment 0", numbered across levels so IDs never collide) and the model
    version and time of their own level's model."""
    import pandas as pd

    from copilot.segmentation import crm_frame, ids_as_text, load_bundle

    if args.glossary or args.data:
        what = "--glossary" if args.glossary else "--data"
        raise InputError(f"{path} holds one segmentation per level of an anchor, and {what} "
                         "works on one segmentation; give a level's folder, such as "
                         f"{path / 'levels' / '<level>'}, or drop {what}.")
    summary_file, file = path / "anchored.json", path / "assignments.csv"
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        raw = pd.read_csv(file, dtype=str, keep_default_na=False)
        anchor, folders = summary["anchor_column"], summary["folders"]
        members = {m: g["level"] for g in summary["groups"] if g["segmented"]
                   for m in g["members"]}
        id_column = raw.columns[0]
        segments = pd.to_numeric(raw["segment"], errors="raise").astype(int)
        level_of = raw[anchor].map(members)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path} is not a complete segment --anchor-mode within folder "
                         f"({type(err).__name__} in {summary_file.name} or {file.name}); run "
                         "segment again.") from None
    versions, times = {}, {}
    for level, folder in folders.items():
        model = load_bundle(path / folder / "model")
        versions[level], times[level] = model.info.bundle_id, model.info.created_at
    names = dict(zip(segments[segments >= 0], raw.loc[segments >= 0, "segment_name"],
                     strict=True))
    frame = crm_frame(ids_as_text(raw[id_column]), segments,
                      pd.to_numeric(raw["confidence"], errors="coerce").fillna(0.0),
                      names=names, model_version="", assigned_at="", id_column=id_column,
                      holdout_share=args.holdout_share, salt=args.salt)
    frame["model_version"] = level_of.map(versions).fillna("").to_numpy()
    frame["assigned_at"] = level_of.map(times).fillna("").to_numpy()
    source = _Source(kind="segment output within anchor levels", frame=frame,
                     inputs=[summary_file, file], has_ids=id_column != "row")
    source.model_version = ", ".join(sorted(set(versions.values())))
    unsegmented = int((segments < 0).sum())
    if unsegmented:
        source.notes.append(f"{unsegmented:,} customer(s) are in no segment (a level too small "
                            "to segment, or unassigned); they are exported as unassigned.")
    return source


def _from_segment_output(path: Path) -> _Source:
    from copilot.segmentation import is_definition
    from copilot.workflow import AnalysisFolder

    analysis = AnalysisFolder(path).read_analysis()
    source = _Source(kind="segment output", analysis=analysis,
                     inputs=[path / "analysis.json", path / "assignments.csv"])
    writing = path / "writing.json"
    if writing.is_file():
        source.inputs.append(writing)
        try:
            narratives = json.loads(writing.read_text(encoding="utf-8"))["narratives"]
            for n in narratives:
                source.names[int(n["segment"])] = str(n["name"])
                writer = (n.get("author") or {}).get("writer")
                if is_definition(n.get("narrative"), writer):
                    source.definitions[int(n["segment"])] = str(n["narrative"])
        except (OSError, ValueError, KeyError, TypeError):
            source.notes.append(f"{writing} is unreadable, so its names are not used.")
    return source


def _from_session(path: Path) -> _Source:
    from copilot.agent import Session
    from copilot.llm import LLMSettings
    from copilot.workflow import definitions_of, given_names, real_names

    session = Session.resume(path, llm=LLMSettings(provider="none"))
    if session.analysis is None:
        raise InputError(f"The session in {path} has no segments yet, so there is nothing to "
                         "export; run the segmentation in it first.")
    source = _Source(kind="session", analysis=session.analysis,
                     inputs=[path / "session.json", session.assignments_path()])
    source.names = real_names(given_names(session.writing))
    source.definitions = definitions_of(session.writing)
    source.notes += session.notices
    return source


def _own_customers(source: _Source, path: Path, args: ExportRequest) -> _Source:
    """The customers the segments were built on, from the folder's assignments.csv."""
    from copilot.workflow import AnalysisFolder, folder_customers

    folder = AnalysisFolder(path)
    if folder.has_model():
        source.inputs += [folder.model / "bundle.json"]
    own = folder_customers(folder, source.analysis, names=source.names,
                           holdout_share=args.holdout_share, salt=args.salt)
    source.frame, source.assignments = own.frame, own.assignments
    source.model_version, source.has_ids = own.model_version, own.has_ids
    source.names = own.names
    source.notes += own.notes
    return source


def _assign(source: _Source, model_dir: Path, args: ExportRequest) -> _Source:
    """Assign the --data table with the saved model (the source's segments stay the glossary's)."""
    from copilot.segmentation import assign_table, load_bundle, load_table
    from copilot.workflow import real_names

    model = load_bundle(model_dir)
    table = load_table(str(args.data), query=args.query, table=args.table)
    source.notes += list(table.notes)
    df = table.frame
    id_column = model.info.id_column
    if id_column and id_column in df.columns:
        df = df.assign(**{id_column: _ids_as_written(table, id_column)})
    else:
        source.has_ids = False
    # Without IDs the rows are numbered, and the export says so (has_ids).
    result = assign_table(model, df, holdout_share=args.holdout_share, salt=args.salt,
                          require_id=False)
    source.notes += list(result.notes)
    source.frame = result.frame
    source.model_version = model.info.bundle_id
    names = real_names({int(k): v for k, v in model.info.names.items()})
    source.names = {**names, **source.names}
    source.inputs += [model_dir / "bundle.json"]
    if not table.from_database:
        source.inputs.append(Path(args.data))
    if source.analysis is not None:
        if model.info.k != source.analysis.choice.k:
            raise InputError(f"The model in {model_dir} has {model.info.k} segments but the "
                             f"analysis beside it has {source.analysis.choice.k}; run segment "
                             "again.")
        # The glossary describes the segments as built: the folder's own customers.
        folder = model_dir.parent
        own = _own_customers(_Source(kind=source.kind, analysis=source.analysis), folder, args)
        source.assignments = own.assignments
    return source


def _ids_as_written(table, id_column: str):
    """The ID column as the file spells it: a CSV reader that guessed numbers would turn
    ``00123`` into 123, which matches no CRM record."""
    import pandas as pd

    from copilot.segmentation import ids_as_text

    frame = table.frame
    if table.format == "csv":
        try:
            text = pd.read_csv(table.source, usecols=[id_column], dtype=str,
                               keep_default_na=False, sep=table.delimiter or ",",
                               encoding=table.encoding or "utf-8")[id_column]
            if len(text) == len(frame):
                return text.to_numpy(dtype=object)
        except (OSError, ValueError, UnicodeDecodeError):
            pass
    return ids_as_text(frame[id_column]).to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------
# Glossary
# --------------------------------------------------------------------------------------------


def _plan_glossary(source: _Source, args: ExportRequest, owners: dict[int, str]):
    from copilot.workflow import plan_glossary

    if source.analysis is None:
        raise InputError("A glossary needs the analysis of the segments, which a bare model "
                         "folder lacks; give the folder segment --out-dir wrote as SOURCE.")
    return plan_glossary(source.analysis, Path(args.glossary), names=source.names,
                         definitions=source.definitions, owners=owners,
                         model_version=source.model_version or None,
                         assignments=source.assignments)


def _names_note(before: dict, names: dict[int, str], source: _Source, out,
                glossary) -> str:
    """A note when the glossary's names, which the CSV takes, differ from the source's."""
    differ = sorted(s for s in names if s in before and before[s] != names[s])
    if not differ:
        return ""
    has_model = any(p.name == "bundle.json" for p in source.inputs)
    where = ("the session" if source.kind == "session"
             else "the saved model" if has_model else "the segment output")
    why = (f"names kept from glossary version {glossary.previous_version} or made unique"
           if glossary.previous_version else "names made unique")
    ours = _and([f"segment {s} \u201c{names[s]}\u201d" for s in differ])
    theirs = _and([f"\u201c{before[s]}\u201d" for s in differ])
    which = ", which assign writes," if has_model and source.kind != "session" else ""
    them = "it" if len(differ) == 1 else "them"
    return (f"{out} and the glossary call {ours} ({why}), while {where}{which} calls {them} "
            f"{theirs}.")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _report(frame, out: str, preset, source: _Source, plan,
            args: ExportRequest) -> None:
    w = sys.stdout.write
    n = len(frame)
    held = int(frame["holdout"].sum())
    versions = frame["model_version"].unique() if n else []
    version = (f"model version {versions[0]}" if len(versions) == 1
               else f"model versions {source.model_version}")
    w(f"Wrote {n:,} customers to {out} ({preset.name} layout, {version}), {held:,} held out "
      "as the control group:\n")
    counts = frame.groupby(["segment", "segment_name"], sort=True).agg(
        customers=("holdout", "size"), held=("holdout", "sum")).reset_index()
    for row in counts.itertuples(index=False):
        label = f"{row.segment:>3} " if row.segment >= 0 else "  - "
        w(f"  {label}{row.segment_name}: {row.customers:,} ({row.held:,} held out)\n")
    w(f"Columns: {', '.join(preset.columns)}.\n")
    w(f"{preset.hint}\n")
    if not source.has_ids:
        sys.stderr.write("note: the table has no customer ID column, so rows are numbered "
                         "from 1; run segment again with --id COLUMN before importing into a "
                         "CRM.\n")
    if plan is None:
        return
    from copilot.segmentation import no_change_text

    g = plan.glossary
    folder = plan.folder
    if not plan.write:
        w(f"The glossary in {folder} is unchanged, so it stays at version {g.version}.\n")
        return
    w(f"Glossary version {g.version} in {folder / 'glossary.md'}")
    if g.previous_version is None:
        w(" (the first version).\n")
        return
    how = "customers in common" if g.matched_by == "customers" else "segment profiles"
    w(f"; changes since version {g.previous_version} (matched by {how}):\n")
    for c in g.changes or ():
        w(f"  - {c.text}\n")
    if not g.changes:
        w(f"  - {no_change_text(g)}\n")
