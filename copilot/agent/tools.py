"""The agent's tools: thin typed functions over the session, the engine and the writers.

Each tool is a pydantic argument model (its docstring and field descriptions are what an LLM
sees; ``tests/agent/tool_schemas.json`` pins them, so an edit shows up as a diff) and a function
``run(session, args, client) -> ToolResult``. Arguments are validated before anything runs; no
code from a model is executed, only these functions with checked arguments. Every figure in a
result's text is formatted from an engine or writer object here, never taken from a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.agent.session import Session
from copilot.agent.views import names_text, profile_text, segment_names, strategy_text, sweep_text
from copilot.core import InputError
from copilot.llm import LLMClient


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ToolResult:
    """What a tool did: ``ok`` false means the step failed (``text`` says why, one sentence)."""

    ok: bool
    text: str
    data: dict[str, Any] = field(default_factory=dict)


Run = Callable[[Session, Any, "LLMClient | None"], ToolResult]


@dataclass(frozen=True)
class Tool:
    name: str
    args: type[Args]
    run: Run

    @property
    def description(self) -> str:
        return " ".join((self.args.__doc__ or "").split())

    def schema(self) -> dict[str, Any]:
        """The OpenAI function schema the LLM sees."""
        spec = convert_to_openai_tool(self.args)["function"]
        return {"type": "function", "function": {**spec, "name": self.name,
                                                 "description": self.description}}


# --- argument models (docstrings are the tool descriptions) ------------------------------------


class LoadData(Args):
    """Load a customer table (CSV, TSV, Parquet, Excel, JSON) with one row per customer."""

    path: str = Field(description="path of the file")


class DescribeData(Args):
    """Describe the loaded table: rows, columns and the role of each column (feature, outcome, ID, left out)."""


class QualityReport(Args):
    """Report data quality: missing values, duplicates, constant and ID-like columns, outliers, leakage suspects."""


class SetGoal(Args):
    """Set the product goal the segments should drive, e.g. reduce churn, expansion, pricing."""

    goal: str = Field(min_length=3, max_length=300, description="the goal in the user's words")


class SetScope(Args):
    """Segment only some customers (a column's level, e.g. Contract=Month-to-month), or all."""

    scope: str = Field(min_length=1, max_length=300,
                       description="COLUMN=LEVEL[,LEVEL], or 'all' for every customer")


class SetRoles(Args):
    """Change which columns are used: the ID column, outcome columns (validation only), columns to leave out or bring back, firmographic anchors compared across segments, free-text columns mined for themes. Re-segments when segments exist, except for anchors and text columns alone, which keep the segments."""

    id_column: str | None = Field(None, description="the customer ID column")
    outcomes: list[str] | None = Field(None, description="outcome columns, e.g. churn or revenue")
    exclude: list[str] | None = Field(None, description="columns to leave out of the clustering")
    include: list[str] | None = Field(None, description="left-out columns to bring back")
    anchors: list[str] | None = Field(None, description="firmographic anchors (industry, company size, region) to report per segment; an empty list for none")
    text_columns: list[str] | None = Field(None, description="free-text columns (reviews, tickets, NPS comments) to find themes in; an empty list for none")


class SegmentWithinAnchor(Args):
    """Segment each level of a firmographic anchor (industry, company size, region) on its own, numbers only; the current segments stay as they are."""

    column: str = Field(description="the anchor column to segment within")


class PrepareFeatures(Args):
    """Show how the features are prepared for clustering (transforms, encodings, dimension reduction)."""


class Sweep(Args):
    """Sweep the number of segments k over a range with one or all algorithms and pick the best k."""

    k_min: int | None = Field(None, ge=2, le=20, description="smallest k to prefer")
    k_max: int | None = Field(None, ge=2, le=20, description="largest k to prefer")
    algorithm: Literal["auto", "kmeans", "gmm", "hierarchical", "hdbscan"] | None = Field(
        None, description="one algorithm, or auto for all")


class ChooseK(Args):
    """Use exactly k segments (refits the segments)."""

    k: int = Field(ge=2, le=20, description="the number of segments")
    algorithm: Literal["auto", "kmeans", "gmm", "hierarchical", "hdbscan"] | None = None


class ProfileSegments(Args):
    """Profile the segments: size, distinguishing traits and rules; one segment or all."""

    segment: int | None = Field(None, description="a segment number, or none for all")


class ValidateOutcomes(Args):
    """Show whether the segments differ on the outcomes (rates or means, intervals, test, effect size)."""


class NameSegments(Args):
    """Name the segments and write a short narrative for each (the LLM writes, checked against the numbers)."""


class DraftStrategy(Args):
    """Draft the segment-to-roadmap strategy for the goal: fit matrix, opportunity ranking, plans with KPIs, risks and a holdout experiment."""

    initiatives: list[str] | None = Field(None, max_length=12,
                                          description="roadmap initiatives; default: a list for the goal")


class RenameSegment(Args):
    """Give a segment a new name."""

    segment: int = Field(description="the segment number")
    name: str = Field(min_length=1, max_length=40, description="the new name")


class ExportMemo(Args):
    """Write the strategy memo (Markdown with charts)."""

    path: str | None = Field(None, description="where to write it; default: memo.md in the session folder")


class ExportAssignments(Args):
    """Write each customer's segment ID, name and confidence to a CSV file."""

    path: str | None = Field(None, description="where to write it; default: segments.csv in the session folder")


class AssignCustomers(Args):
    """Assign the customers in another file (same columns) to the current segments with the saved model: segment, name, confidence, holdout flag, model version."""

    path: str = Field(description="the file of customers to assign")
    out: str | None = Field(None, description="where to write the CSV; default: assigned-<file>.csv in the session folder")


class CheckDrift(Args):
    """Compare a newer snapshot of the customers with the current table: who changed segment, distribution shift (PSI) and whether to re-cluster."""

    path: str = Field(description="the newer snapshot's file")


class BuildFeatures(Args):
    """Turn an event or transaction log (one row per event) into one row per customer with recency, frequency, spend, trend and event-type features, and load it; with as_of, outcomes after that date are added."""

    path: str = Field(description="the event log file")
    id_column: str = Field(description="the customer ID column of the log")
    time_column: str = Field(description="the event time column")
    amount: str | None = Field(None, description="the amount column, or two columns multiplied like Quantity*UnitPrice")
    event: str | None = Field(None, description="the event type column")
    order: str | None = Field(None, description="the order, invoice or session ID column")
    product: str | None = Field(None, description="the product column (distinct products, reorders)")
    purchase_event: str | None = Field(None, description="the event type that is a purchase, for a clickstream without amounts")
    as_of: str | None = Field(None, description="cut-off date YYYY-MM-DD: features before it, outcomes after it")
    horizon_days: int | None = Field(None, ge=1, le=3650, description="days after the cut-off the outcomes cover; default: to the end of the log")


class ExportCrm(Args):
    """Write a CRM import file of every customer: segment ID and name, confidence, 10% holdout flag, model version, assigned-at; columns named for HubSpot, Salesforce or generic."""

    preset: Literal["generic", "hubspot", "salesforce"] = Field("generic", description="the CRM the file is for")
    path: str | None = Field(None, description="where to write it; default: crm-<preset>.csv in the session folder")


class WriteGlossary(Args):
    """Write the segment glossary (Markdown and JSON): name, definition, rules, size, traits, outcomes, owner, version and what changed since the previous version."""

    folder: str | None = Field(None, description="the glossary folder; default: glossary/ in the session folder")
    owners: dict[int, str] | None = Field(None, description="segment number -> the person who owns its strategy")


class AnswerQuestion(Args):
    """Answer a question about the data, the segments or the method from the computed results."""

    question: str = Field(min_length=1, max_length=500)


# --- helpers -----------------------------------------------------------------------------------


def _fail(session: Session) -> ToolResult:
    """The step failed: its error event already told the user; return the same sentence."""
    return ToolResult(False, session.last_error or "That step failed.")


def _need_segments(session: Session) -> None:
    if session.analysis is None:
        raise InputError("There are no segments yet; load a table and run the sweep first.")


def _columns(session: Session) -> list[str]:
    return [str(c) for c in session.table().frame.columns]


def _check_columns(session: Session, names: list[str] | None, what: str) -> list[str]:
    """Match column names case-insensitively; an unknown one is a one-sentence error."""
    if not names:
        return []
    columns = _columns(session)
    by_key = {c.casefold(): c for c in columns}
    out = []
    for name in names:
        match = by_key.get(str(name).casefold().strip())
        if match is None:
            raise InputError(f"There is no column {name!r} to {what}; the columns are "
                             f"{', '.join(columns[:25])}{' ...' if len(columns) > 25 else ''}.")
        out.append(match)
    return out


# --- tools -------------------------------------------------------------------------------------


def _load(session: Session, args: LoadData, client) -> ToolResult:
    table = session.load(args.path)
    if table is None:
        return _fail(session)
    return ToolResult(True, f"Loaded {len(table.frame):,} rows and {len(table.frame.columns)} "
                      f"columns from {Path(args.path).name}.",
                      {"rows": len(table.frame), "columns": len(table.frame.columns)})


def _describe(session: Session, args: DescribeData, client) -> ToolResult:
    roles, _ = session.inspect()
    if roles is None:
        return _fail(session)
    groups: dict[str, list[str]] = {}
    for c in roles.columns:
        groups.setdefault(c.role, []).append(c.name)
    text = [f"{session.rows():,} rows, {len(roles.columns)} columns."]
    text += [f"{role}: {', '.join(cols)}" for role, cols in groups.items()]
    return ToolResult(True, "\n".join(text), {"roles": {c.name: c.role for c in roles.columns}})


def _quality(session: Session, args: QualityReport, client) -> ToolResult:
    _, quality = session.inspect()
    if quality is None:
        return _fail(session)
    warnings = [f for f in quality.findings if f.severity == "warning"]
    notes = [f for f in quality.findings if f.severity != "warning"]
    lines = [f"{len(warnings)} warning(s), {len(notes)} note(s)."]
    lines += [f"- {f.message}" for f in (warnings + notes)[:10]]
    return ToolResult(True, "\n".join(lines), {"warnings": len(warnings), "notes": len(notes)})


def _set_goal(session: Session, args: SetGoal, client) -> ToolResult:
    if session.set_goal(args.goal) is None and session.last_error:
        return _fail(session)
    text = f"Goal: {session.goal}." if session.goal else "The goal is cleared."
    if session.scope_note:  # the goal's population: the scope taken, or the question
        text += " " + session.scope_note
    return ToolResult(True, text)


def _set_scope(session: Session, args: SetScope, client) -> ToolResult:
    if session.set_scope(args.scope) is False:
        return _fail(session)
    return ToolResult(True, session.scope_note or "The scope is unchanged.")


def _set_roles(session: Session, args: SetRoles, client) -> ToolResult:
    try:
        update: dict[str, Any] = {}
        if args.id_column is not None:
            update["id_column"] = _check_columns(session, [args.id_column], "use as the ID")[0]
        if args.outcomes is not None:
            update["outcomes"] = tuple(_check_columns(session, args.outcomes, "use as an outcome"))
        exclude = list(session.settings.exclude)
        exclude += [c for c in _check_columns(session, args.exclude, "leave out")
                    if c not in exclude]
        back = set(_check_columns(session, args.include, "bring back"))
        update["exclude"] = tuple(c for c in exclude if c not in back)
        if args.include:  # "/include X" also keeps X when it was left out as a leak
            update["keep"] = tuple(dict.fromkeys((*session.settings.keep, *sorted(back))))
        reported: dict[str, tuple[str, ...]] = {}
        if args.anchors is not None:
            reported["anchors"] = tuple(_check_columns(session, args.anchors, "use as an anchor"))
        if args.text_columns is not None:
            reported["text_columns"] = tuple(_check_columns(session, args.text_columns,
                                                            "read as free text"))
    except InputError as err:
        session.report_error("set_roles", err)
        return ToolResult(False, str(err))
    if reported and update["exclude"] == session.settings.exclude and len(update) == 1:
        # Only what is reported about the segments changes: they stay, and so do their names.
        if session.set_reported_columns(**reported) is None:
            return _fail(session)
        if session.analysis is None:
            return ToolResult(True, "Noted; they apply to the next sweep.")
        from copilot.report import anchor_text, theme_text

        blocks = [*(theme_text(session.analysis, segment_names(session))
                    if "text_columns" in reported else []),
                  *(anchor_text(session.analysis, segment_names(session))
                    if "anchors" in reported else [])]
        return ToolResult(True, "\n".join(["The same segments, reported again."] + blocks))
    update.update(reported)
    if session.analysis is None:
        if session.configure(**update) is None:
            return _fail(session)
        return ToolResult(True, "Roles updated; they apply to the next sweep.")
    if session.segment(**update) is None:
        return _fail(session)
    return ToolResult(True, "Roles updated and segments refitted.\n" + sweep_text(session))


def _prepare(session: Session, args: PrepareFeatures, client) -> ToolResult:
    _need_segments(session)
    prep = session.analysis.preparation
    lines = [f"{len(prep.numeric)} numeric and {len(prep.categorical)} categorical features."]
    lines += [f"- {s.name}: {s.transform}, scaled" for s in prep.numeric if s.transform != "none"]
    lines += [f"- {s.name}: {len(s.levels)} levels, one-hot" for s in prep.categorical]
    if prep.pca is not None:
        lines.append(f"- PCA to {prep.pca.n_components} components")
    lines += [f"- {note}" for note in prep.notes]
    return ToolResult(True, "\n".join(lines))


def _refit(session: Session, update: dict[str, Any], algorithm: str | None) -> ToolResult:
    if algorithm is not None:
        update["algorithm"] = algorithm
    if session.segment(**update) is None:
        return _fail(session)
    return ToolResult(True, sweep_text(session), {"k": session.analysis.choice.k})


def _sweep(session: Session, args: Sweep, client) -> ToolResult:
    update: dict[str, Any] = {"k": None}
    if args.k_min is not None or args.k_max is not None:
        lo = args.k_min or 2
        hi = args.k_max or max(lo, 10)
        update["k_range"] = (min(lo, hi), max(lo, hi))
    return _refit(session, update, args.algorithm)


def _choose_k(session: Session, args: ChooseK, client) -> ToolResult:
    return _refit(session, {"k": args.k}, args.algorithm)


def _profile(session: Session, args: ProfileSegments, client) -> ToolResult:
    _need_segments(session)
    return ToolResult(True, profile_text(session, args.segment))


def _validate(session: Session, args: ValidateOutcomes, client) -> ToolResult:
    _need_segments(session)
    a = session.analysis
    if not a.validation:
        return ToolResult(True, "There are no outcome columns to validate against; name one "
                          "with set_roles (for example outcomes=['churn']).")
    return ToolResult(True, "\n".join(v.summary for v in a.validation))


def _name(session: Session, args: NameSegments, client) -> ToolResult:
    if session.write(client, with_strategy=False) is None:
        return _fail(session)
    return ToolResult(True, names_text(session))


def _strategy(session: Session, args: DraftStrategy, client) -> ToolResult:
    initiatives = tuple(args.initiatives) if args.initiatives else None
    if session.draft_strategy(client, initiatives=initiatives) is None:
        return _fail(session)
    return ToolResult(True, strategy_text(session))


def _rename(session: Session, args: RenameSegment, client) -> ToolResult:
    if session.rename(args.segment, args.name) is None:
        return _fail(session)
    return ToolResult(True, f"Segment {args.segment} is now {segment_names(session)[args.segment]}.")


def _memo(session: Session, args: ExportMemo, client) -> ToolResult:
    files = session.export_memo(args.path)
    if files is None:
        return _fail(session)
    return ToolResult(True, f"Wrote the memo to {files.memo} with {len(files.charts)} chart(s).",
                      {"memo": str(files.memo)})


def _assignments(session: Session, args: ExportAssignments, client) -> ToolResult:
    path = session.export_assignments(args.path)
    if path is None:
        return _fail(session)
    return ToolResult(True, f"Wrote every customer's segment to {path}.", {"path": str(path)})


def _assign_new(session: Session, args: AssignCustomers, client) -> ToolResult:
    path = session.assign_new(args.path, args.out)
    if path is None:
        return _fail(session)
    return ToolResult(True, f"Assigned the customers of {args.path} to {path}.",
                      {"path": str(path)})


def _drift(session: Session, args: CheckDrift, client) -> ToolResult:
    report = session.check_drift(args.path)
    if report is None:
        return _fail(session)
    path = session.session_dir / "drift.md"
    return ToolResult(True, f"Drift verdict: {report.verdict.level}. {report.verdict.summary} "
                      + " ".join(report.verdict.reasons) + f" The full report is in {path}.",
                      {"verdict": report.verdict.level, "path": str(path)})


def _features(session: Session, args: BuildFeatures, client) -> ToolResult:
    path = session.build_features(args.path, id_column=args.id_column,
                                  time_column=args.time_column, amount=args.amount,
                                  event=args.event, order=args.order, product=args.product,
                                  purchase_event=args.purchase_event, as_of=args.as_of,
                                  horizon_days=args.horizon_days)
    if path is None:
        return _fail(session)
    return ToolResult(True, f"Built the customer table {path} from the log and loaded it: "
                      f"{session.rows():,} customers.", {"path": str(path)})


def _export_crm(session: Session, args: ExportCrm, client) -> ToolResult:
    path = session.export_crm(args.preset, args.path)
    if path is None:
        return _fail(session)
    return ToolResult(True, f"Wrote the {args.preset} import file to {path}.", {"path": str(path)})


def _glossary(session: Session, args: WriteGlossary, client) -> ToolResult:
    glossary = session.write_glossary(args.folder, owners=args.owners)
    if glossary is None:
        return _fail(session)
    folder = Path(args.folder).expanduser() if args.folder else session.session_dir / "glossary"
    from copilot.segmentation import no_change_text

    changes = " ".join(c.text for c in glossary.changes) or (
        no_change_text(glossary) if glossary.previous_version else
        "No earlier version to compare with.")
    return ToolResult(True, f"Glossary version {glossary.version} of {len(glossary.entries)} "
                      f"segments is in {folder / 'glossary.md'}. {changes}",
                      {"path": str(folder), "version": glossary.version})


def _within(session: Session, args: SegmentWithinAnchor, client) -> ToolResult:
    from copilot.report import render_anchored_summary

    column = _check_columns(session, [args.column], "segment within")[0]
    result = session.segment_within(column)
    if result is None:
        return _fail(session)
    path = session.within_path(column)
    return ToolResult(True, render_anchored_summary(result, {"path": session.data_name})
                      + f"\nThe per-level results are in {path}.",
                      {"path": str(path), "segments": result.summary.n_segments})


def _answer(session: Session, args: AnswerQuestion, client) -> ToolResult:
    from copilot.agent.answers import answer_question

    text = answer_question(session, args.question, client)
    return ToolResult(True, text)


TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("load_data", LoadData, _load),
    Tool("describe_data", DescribeData, _describe),
    Tool("quality_report", QualityReport, _quality),
    Tool("set_goal", SetGoal, _set_goal),
    Tool("set_scope", SetScope, _set_scope),
    Tool("set_roles", SetRoles, _set_roles),
    Tool("prepare_features", PrepareFeatures, _prepare),
    Tool("sweep", Sweep, _sweep),
    Tool("choose_k", ChooseK, _choose_k),
    Tool("profile_segments", ProfileSegments, _profile),
    Tool("validate_outcomes", ValidateOutcomes, _validate),
    Tool("name_segments", NameSegments, _name),
    Tool("draft_strategy", DraftStrategy, _strategy),
    Tool("rename_segment", RenameSegment, _rename),
    Tool("export_memo", ExportMemo, _memo),
    Tool("export_assignments", ExportAssignments, _assignments),
    Tool("assign_customers", AssignCustomers, _assign_new),
    Tool("check_drift", CheckDrift, _drift),
    Tool("build_features", BuildFeatures, _features),
    Tool("export_crm", ExportCrm, _export_crm),
    Tool("write_glossary", WriteGlossary, _glossary),
    Tool("segment_within_anchor", SegmentWithinAnchor, _within),
    Tool("answer_question", AnswerQuestion, _answer),
)}


def tool_schemas() -> list[dict[str, Any]]:
    return [tool.schema() for tool in TOOLS.values()]


def call_tool(session: Session, name: str, arguments: dict[str, Any],
              client: LLMClient | None = None) -> ToolResult:
    """Validate ``arguments`` for tool ``name`` and run it; bad arguments are a failed result."""
    tool = TOOLS.get(name)
    if tool is None:
        return ToolResult(False, f"There is no tool {name!r}; the tools are {', '.join(TOOLS)}.")
    try:
        args = tool.args.model_validate(arguments or {})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return ToolResult(False, f"Bad arguments for {name}: {where}: {first['msg'].lower()}.")
    try:
        return tool.run(session, args, client)
    except InputError as err:
        session.report_error(name, err)
        return ToolResult(False, str(err))

