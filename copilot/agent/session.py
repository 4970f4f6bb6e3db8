"""A headless analysis session: data, goal, settings, results and conversation, saved as it goes.

Every step (``load``, ``set_goal``, ``segment``, ``write``, ``say``) emits events to the
subscribers, changes the session only when it succeeds, and then saves the whole session to
``session_dir/session.json`` atomically, so a crash or a full disk leaves the previous save
intact. A user-level failure (a missing file, an impossible k) becomes one ``error`` event and
the step returns None; the session stays usable. Anything else is a bug: it is reported as an
``error`` event too, then raised.

The loaded table is never saved: ``Session.resume`` reads it again from its path the first time
a step needs it. Results are saved with the serialisation of ``analysis.json`` and
``writing.json`` (the pydantic models' JSON) and come back as full ``SegmentAnalysis`` and
``Writing`` objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd
from pydantic import ValidationError

from copilot import __version__
from copilot.agent.events import Event, EventKind, Message, Role, Subscriber
from copilot.core import (
    CopilotError,
    Frozen,
    InputError,
    SettingsError,
    atomic_write_text,
    percent,
    refuse_overwrite,
    same_file,
)
from copilot.llm import (
    NAMED_EVENT,
    Authorship,
    LLMClient,
    LLMSettings,
    Writing,
    draft_strategy,
    name_key,
    open_client,
    resolve_settings,
    write_all,
)
from copilot.segmentation import (
    LoadedTable,
    QualityReport,
    RoleReport,
    SavedModel,
    Scope,
    SegmentAnalysis,
    SegmentationRun,
    SegmentSettings,
    assign_file,
    check_settings,
    csv_text,
    infer_roles,
    load_bundle,
    load_table,
    quality_report,
    read_document,
    rename_bundle,
    run_segmentation,
    save_bundle,
    write_outputs,
)

if TYPE_CHECKING:
    from copilot.report import MemoFiles
    from copilot.segmentation import AnchoredSegmentation, DriftReport, Glossary

SESSION_FILE = "session.json"
SESSION_FORMAT = "segment-copilot-session"
# How a scope is undone, in every front end's words (chat, ask).
UNDO_SCOPE = "/scope all (in ask: --scope all) segments everyone"

# Bump when the saved shape changes; resume refuses other versions rather than guess.
SESSION_VERSION = 1

T = TypeVar("T")


class SessionFile(Frozen):
    """The saved shape of a session (``session.json``).

    ``analysis`` and ``writing`` hold the same JSON as ``analysis.json`` and ``writing.json``;
    they are kept as plain JSON here so that a file whose results no longer validate (saved by
    another engine version) still resumes, without them.
    """

    format: Literal["segment-copilot-session"] = SESSION_FORMAT
    version: int = SESSION_VERSION
    app_version: str
    data_path: str | None
    goal: str | None
    settings: SegmentSettings
    llm: LLMSettings  # saved without the API key: a secret has no place in a project folder
    conversation: tuple[Message, ...]
    analysis: dict[str, Any] | None
    writing: dict[str, Any] | None
    user_names: dict[int, str] = {}  # segment -> the name the user gave it (rename)


class Session:
    """One user's analysis, step by step.

    Parameters
    ----------
    session_dir
        Folder for ``session.json`` (created on the first save).
    settings
        Engine settings; ``segment(**overrides)`` updates them when a run succeeds.
    llm
        LLM settings; default: resolved from the environment and config file, as the CLI does
        (a bad configuration raises ``SettingsError`` here, before any step).

    Attributes
    ----------
    data_path, goal, settings, llm, conversation, analysis, writing
        The session's state, all saved. ``run`` (the per-row labels and model of the last
        ``segment``) and the loaded table are in memory only.
    notices
        Sentences about what ``resume`` could not restore.
    """

    def __init__(
        self,
        session_dir: str | Path,
        *,
        settings: SegmentSettings | None = None,
        llm: LLMSettings | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.data_path: Path | None = None
        self.goal: str | None = None
        self.settings = settings or SegmentSettings()
        self.llm = llm if llm is not None else resolve_settings()
        self.conversation: list[Message] = []
        self.analysis: SegmentAnalysis | None = None
        self.writing: Writing | None = None
        self.run: SegmentationRun | None = None
        self.notices: list[str] = []
        self.user_names: dict[int, str] = {}
        self._table: LoadedTable | None = None
        self._client: LLMClient | None = None
        self._inspected: tuple[str, RoleReport, QualityReport] | None = None
        self.last_error: str | None = None
        # The sentence about the goal's population: the scope taken from it, or a question when
        # no column level matches its words (None: the goal names no population).
        self.scope_note: str | None = None
        self._scope_chosen = False  # set by set_scope: a goal no longer changes the scope
        self._scoped_frame: tuple[LoadedTable, Scope, pd.DataFrame] | None = None
        self._subscribers: list[Subscriber] = []

    @property
    def path(self) -> Path:
        """Where the session is saved."""
        return self.session_dir / SESSION_FILE

    # --- events -------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _emit(self, kind: EventKind, text: str, **data: Any) -> None:
        event = Event(kind=kind, text=text, data=data)
        for callback in list(self._subscribers):
            callback(event)

    # --- steps --------------------------------------------------------------------------------

    def assignments_path(self) -> Path:
        """The per-row segments of the last ``segment`` (``assignments.csv`` in the folder)."""
        return self.session_dir / "assignments.csv"

    def model_path(self) -> Path:
        """The saved model of the last ``segment`` (the ``model/`` folder in the session)."""
        return self.session_dir / "model"

    def _sync_model_names(self) -> None:
        # The saved model carries the current names, so assignments and CRM exports show them.
        if (self.model_path() / "bundle.json").is_file():
            rename_bundle(self.model_path(), self.segment_names())

    def load(self, path: str | Path) -> LoadedTable | None:
        """Read a customer table; a new table drops the results computed from the old one."""

        def work() -> LoadedTable:
            table = load_table(path)
            self._table = table
            self.data_path = Path(path).expanduser().resolve()  # resume may run from elsewhere
            self.analysis = self.writing = self.run = None
            self.user_names = {}
            self._inspected = None
            frame = table.frame
            self._emit("result", f"Loaded {len(frame):,} rows and {len(frame.columns)} columns "
                       f"from {Path(path).name}.", step="load", path=str(self.data_path),
                       rows=len(frame), columns=len(frame.columns), format=table.format,
                       notes=list(table.notes))
            # Another table: a scope read from the goal is read again against its columns.
            self.settings = self.settings.model_copy(update={"scope": None})
            self._scope_chosen = False
            self._scope_from_goal()
            return table

        return self._step("load", {"path": str(path)}, work)

    def build_features(self, path: str | Path, *, id_column: str, time_column: str,
                       amount: str | None = None, event: str | None = None,
                       order: str | None = None, product: str | None = None,
                       purchase_event: str | None = None, as_of: str | None = None,
                       horizon_days: int | None = None) -> Path | None:
        """Turn an event or transaction log into one row per customer (``features.csv`` in the
        session folder) and load that as the table; with ``as_of``, features come from before
        the cut-off and ``outcome_`` columns from after it, so segments are tested on the
        future."""

        def work() -> Path:
            from copilot.segmentation import EventSpec, build_features

            spec = EventSpec(id=id_column, time=time_column, amount=amount, event=event,
                             order=order, product=product, purchase_event=purchase_event)
            built = build_features(Path(path).expanduser(), spec, as_of=as_of,
                                   horizon_days=horizon_days, progress=self._progress)
            out = self.session_dir / "features.csv"
            atomic_write_text(out, built.frame.to_csv(index=False))
            s = built.summary
            rate = f" {s.outcome_headline}." if s.outcome_headline else ""
            self._emit("result", f"Built {len(s.features)} features for {s.n_customers:,} "
                       f"customers from {s.rows_used:,} events "
                       f"({s.first_event:%Y-%m-%d} to {s.last_event:%Y-%m-%d}).{rate}",
                       step="build_features", path=str(out), customers=s.n_customers,
                       features=len(s.features), outcomes=[o.name for o in s.outcomes])
            return out

        args = {"path": str(path), "id_column": id_column, "time_column": time_column,
                **{k: v for k, v in (("amount", amount), ("event", event), ("order", order),
                                     ("product", product), ("purchase_event", purchase_event),
                                     ("as_of", as_of), ("horizon_days", horizon_days)) if v}}
        out = self._step("build_features", args, work, save=False)
        if out is None or self.load(out) is None:
            return None
        # A new table with its own ID: roles chosen for the previous table no longer apply.
        self.settings = self.settings.model_copy(update={"id_column": id_column,
                                                         "outcomes": None, "exclude": ()})
        self._save()
        return out

    def set_goal(self, text: str | None) -> str | None:
        """Set the product goal (blank clears it). A changed goal drops the writing, which is
        drafted for one goal (the k recommendation and the strategy both read it)."""

        def work() -> str | None:
            goal = (text or "").strip() or None
            if goal != self.goal:
                self.writing = None
            self.goal = goal
            self._emit("result", f"Goal: {goal}." if goal else "The goal is cleared.",
                       step="set_goal", goal=goal)
            self._scope_from_goal()
            return goal

        return self._step("set_goal", {"text": text}, work)

    def _scope_from_goal(self) -> None:
        """Take the goal's population ("among month-to-month customers") as the scope, and say
        so in one sentence the user can undo; words no column level matches become a question.
        A scope the user chose (``/scope``) stays until a goal names another population."""
        from copilot.segmentation import find_scope

        self.scope_note = None
        if self.goal is None or self.data_path is None or self._scope_chosen:
            return  # the user's own /scope (or --scope) wins over words read from a goal
        frame = self._loaded().frame
        # The ID and the outcomes never scope: "among churned customers" is the label itself.
        s = self.settings
        roles = (self._inspected[1] if self._inspected is not None else
                 infer_roles(frame, id_column=s.id_column, exclude=list(s.exclude),
                             outcomes=list(s.outcomes) if s.outcomes is not None else None))
        skip = ((roles.id_column,) if roles.id_column else ()) + tuple(roles.outcomes)
        found = find_scope(self.goal, frame, skip=skip)
        current = self.settings.scope
        if found is None or found.scope is None:
            if current is not None and current.words is not None:  # the last goal's scope
                self._set_scope(None)
            if found is not None:
                self.scope_note = found.question
                self._emit("result", found.question, step="scope", question=True)
            return
        if found.scope != current:
            self._set_scope(found.scope)
        self.scope_note = _scope_sentence(found.scope, frame)
        self._emit("result", self.scope_note, step="scope")

    def _set_scope(self, scope: Scope | None) -> None:
        # Other customers: the segments, names and strategy described the previous population.
        self.settings = self.settings.model_copy(update={"scope": scope})
        self.analysis = self.writing = self.run = None
        self.user_names = {}
        self._inspected = None

    def set_scope(self, text: str) -> Scope | None | bool:
        """``/scope COLUMN=LEVEL[,LEVEL]`` narrows the table, ``/scope all`` undoes a scope;
        the segments are computed again on the next step. Returns the scope (None for all), or
        False when ``text`` was refused (the reason is the step's error)."""

        def work() -> Scope | None:
            from copilot.segmentation import find_scope, parse_scope

            frame = self._loaded().frame
            words = text.strip()
            if words.lower() in ("all", "none", "everyone", "off", ""):
                scope = None
            elif "=" in words:
                scope = parse_scope(words, frame)
            else:  # "/scope month-to-month customers": read like a goal's population
                found = find_scope(f"among {words}", frame)
                if found is None or found.scope is None:
                    raise SettingsError(f"No column of the table has a level like "
                                        f"\u201c{words}\u201d; give it as COLUMN=LEVEL, e.g. "
                                        "/scope Contract=Month-to-month.")
                scope = found.scope.model_copy(update={"words": None})  # the user's, not a goal's
            if scope is not None:
                scope.apply(frame)  # too few customers: refused before anything changes
            if scope != self.settings.scope:
                self._set_scope(scope)
            self._scope_chosen = True
            if scope is None:
                self.scope_note = f"All {len(frame):,} customers will be segmented (no scope)."
            else:
                self.scope_note = _scope_sentence(scope, frame)
            self._emit("result", self.scope_note, step="scope")
            return scope

        before = self.last_error
        result = self._step("scope", {"text": text}, work)
        if result is None and self.last_error and self.last_error != before:
            return False
        return result

    def segment(self, **overrides: Any) -> SegmentAnalysis | None:
        """Run the engine with the session's settings, updated by ``overrides`` (e.g. ``k=4``).

        Giving ``k`` clears ``k_range`` and the reverse, since the engine takes one or the other.
        The settings are kept only when the run succeeds; the writing is dropped, as it
        describes the previous segments.
        """

        def work() -> SegmentAnalysis:
            settings = self._with_overrides(overrides)
            table = self._loaded()
            source = {"path": str(self.data_path), "format": table.format,
                      "rows": len(table.frame), "columns": len(table.frame.columns)}
            # The whole table goes in: the engine applies the settings' scope and reports it.
            run = run_segmentation(table.frame, settings, source=source, progress=self._progress)
            self.settings, self.run, self.analysis, self.writing = settings, run, run.analysis, None
            self.user_names = {}  # new segments: the old names describe other customers
            # The per-row segments are saved beside the session, so an export after a resume
            # needs no rerun.
            write_outputs(run, self.session_dir)
            # The saved model, so `assign`, `compare` and `export` work from the session folder.
            save_bundle(run, self.model_path(), names=self.segment_names(),
                        df=self._scoped(table.frame, settings))
            choice = run.analysis.choice
            self._emit("result", f"{choice.k} segments with {choice.algorithm}.", step="segment",
                       k=choice.k, algorithm=choice.algorithm,
                       sizes={s.segment: s.n for s in run.analysis.sizes})
            return run.analysis

        return self._step("segment", dict(overrides), work)

    def set_reported_columns(self, *, anchors: tuple[str, ...] | None = None,
                             text_columns: tuple[str, ...] | None = None
                             ) -> SegmentSettings | None:
        """Choose the anchors compared across segments and the free-text columns mined for
        themes (None: keep, ``()``: none). With segments, only those reports are computed
        again: the segments, their names and the strategy stay."""
        update = {k: tuple(v) for k, v in (("anchors", anchors), ("text_columns", text_columns))
                  if v is not None}
        if self.analysis is None:
            return self.configure(**update)

        def work() -> SegmentSettings:
            from dataclasses import replace

            from copilot.segmentation import report_themes_and_anchors

            frame = self._frame()
            analysis = report_themes_and_anchors(self.analysis, frame, self.labels(),
                                                 progress=self._progress, **update)
            atomic_write_text(self.session_dir / "analysis.json",
                              analysis.model_dump_json(indent=2))
            self.analysis, self.settings = analysis, self.settings.model_copy(update=update)
            if self.run is not None:
                self.run = replace(self.run, analysis=analysis)
            said = [f"{len(analysis.themes)} text column(s) read for themes"]
            said.append(f"{len(analysis.anchors.anchors) if analysis.anchors else 0} anchor(s) "
                        "compared across the segments")
            self._emit("result", "Same segments; " + " and ".join(said) + ".",
                       step="set_reported_columns", **update)
            return self.settings

        return self._step("set_reported_columns", dict(update), work)

    def labels(self) -> np.ndarray:
        """Each row's segment: from the last run, or after a resume from assignments.csv."""
        if self.run is not None:
            return self.run.labels
        source = self.assignments_path()
        if not source.is_file():
            raise InputError(f"The per-customer segments ({source}) are missing; run the "
                             "segmentation again.")
        return pd.read_csv(source, usecols=["segment"])["segment"].to_numpy()

    def within_path(self, column: str) -> Path:
        """Where ``segment_within(column)`` writes by default: ``within-<column>/``."""
        from copilot.segmentation import folder_name

        return self.session_dir / f"within-{folder_name(column, 'anchor')}"

    def segment_within(self, column: str, folder: str | Path | None = None
                       ) -> AnchoredSegmentation | None:
        """Segment each level of an anchor column (industry, size band, region) on its own.

        Numbers only, written like ``segment --anchor COL --anchor-mode within`` to ``folder``
        (default ``within-<column>/`` in the session folder). The session's own segments, names
        and strategy stay as they were: a level's segments are another analysis, not these.
        """

        def work() -> AnchoredSegmentation:
            from copilot.segmentation import (
                check_anchored_folder,
                check_settings,
                segment_within_anchors,
                write_anchored,
            )

            frame = self._frame()
            out = self.output_path(folder, self.within_path(column))
            check_anchored_folder(out)
            # Each level finds its own k (within the user's band); the anchor itself is not a
            # feature there, and the other suggested anchors are reported per level.
            settings = self.settings.model_copy(update={"anchors": None, "k": None})
            check_settings(frame, settings)
            result = segment_within_anchors(frame, column, settings, progress=self._progress)
            if result.summary.n_segments == 0:
                raise InputError(f"No level of {column} could be segmented on its own "
                                 f"({result.summary.groups[0].reason.rstrip('.')}); choose a "
                                 "coarser anchor.")
            files, _ = write_anchored(result, frame, out)
            s = result.summary
            done = [g for g in s.groups if g.segmented]
            self._emit("result", f"Segmented within {column}: {s.n_segments} segments in "
                       f"{len(done)} level(s), written to {out}.", step="segment_within",
                       column=column, path=str(out), segments=s.n_segments,
                       levels={g.level: g.k for g in done})
            return result

        args = {"column": column, **({"folder": str(folder)} if folder else {})}
        return self._step("segment_within", args, work, save=False)

    def write(
        self,
        client: LLMClient | None = None,
        *,
        initiatives: tuple[str, ...] | None = None,
        with_strategy: bool = True,
    ) -> Writing | None:
        """Name the segments and, with a goal (and ``with_strategy``), draft the strategy.

        ``client`` defaults to the session's own, opened once from its LLM settings; tests
        inject a scripted one. Its ``on_event`` is routed to the subscribers as progress events.
        Names the user gave (``rename``) are kept when they are still unique.
        """

        def work() -> Writing:
            if self.analysis is None:
                raise InputError("There are no segments to write about yet; run segment first.")
            writing = write_all(self.analysis, self.client(client), goal=self.goal,
                                initiatives=initiatives, with_strategy=with_strategy)
            self.writing = writing = _with_user_names(writing, self.user_names)
            self._sync_model_names()
            names = [n.name for n in writing.narratives]
            drafts = sum(n.author.status == "fallback" for n in writing.narratives)
            self._emit("result", f"Named {len(names)} segments"
                       f"{' and drafted a strategy' if writing.strategy else ''}: "
                       f"{', '.join(names)}"
                       f"{f' ({drafts} deterministic drafts)' if drafts else ''}.", step="write",
                       names=names, notices=list(writing.notices), calls=writing.calls)
            return writing

        args: dict[str, Any] = {"initiatives": list(initiatives)} if initiatives else {}
        if not with_strategy:
            args["with_strategy"] = False
        return self._step("write", args, work)

    def draft_strategy(
        self, client: LLMClient | None = None, *, initiatives: tuple[str, ...] | None = None
    ) -> Writing | None:
        """Draft (or redraft) the strategy for the current names and goal."""

        def work() -> Writing:
            if self.analysis is None:
                raise InputError("There are no segments to plan for yet; run segment first.")
            if not self.goal:
                raise InputError("A strategy needs a goal; set one first (for example "
                                 "/goal Reduce churn among paying customers).")
            llm_client = self.client(client)
            if self.writing is None:  # names first: the strategy is written per named segment
                self.writing = write_all(self.analysis, llm_client, goal=self.goal,
                                         with_strategy=False)
            start = time.perf_counter()
            strategy = draft_strategy(self.analysis, self.writing.narratives, llm_client,
                                      goal=self.goal, initiatives=initiatives)
            seconds = {**self.writing.seconds, "strategy": round(time.perf_counter() - start, 2)}
            writing = self.writing.model_copy(update={
                "strategy": strategy, "seconds": seconds, "calls": llm_client.calls,
                "notices": tuple(dict.fromkeys((*self.writing.notices, *llm_client.notices)))})
            self.writing = writing = _with_user_names(writing, self.user_names)
            best = strategy.opportunities[0] if strategy.opportunities else None
            self._emit("result", "Drafted a strategy" + (
                f"; the top opportunity is {best.initiative} for {best.name}." if best else "."),
                step="draft_strategy", plans=len(strategy.plans))
            return writing

        return self._step("draft_strategy",
                          {"initiatives": list(initiatives)} if initiatives else {}, work)

    def rename(self, segment: int, name: str) -> Writing | None:
        """Give a segment the user's own name (kept across re-writes of the same segments)."""

        def work() -> Writing:
            if self.analysis is None:
                raise InputError("There are no segments to rename yet; run segment first.")
            ids = [p.segment for p in self.analysis.profiles]
            if segment not in ids:
                raise InputError(f"There is no segment {segment}; the segments are "
                                 f"{', '.join(map(str, ids))}.")
            clean = " ".join(str(name).split()).strip(" .\"'")
            if not 1 <= len(clean) <= 40:
                raise InputError("A segment name needs 1 to 40 characters; try a short phrase "
                                 "like 'Loyal Power Users'.")
            writing = self.writing or _drafts(self.analysis)
            others = [n.name for n in writing.narratives if n.segment != segment]
            if any(name_key(clean) == name_key(o) for o in others):
                raise InputError(f"Another segment is already called {clean!r}; choose a "
                                 "different name.")
            old = next(n.name for n in writing.narratives if n.segment == segment)
            self.user_names = {**self.user_names, segment: clean}
            self.writing = writing = _with_user_names(writing, self.user_names)
            self._sync_model_names()
            self._emit("result", f"Segment {segment} is now {clean!r} (was {old!r}).",
                       step="rename", segment=segment, name=clean, old=old)
            return writing

        return self._step("rename", {"segment": segment, "name": name}, work)

    def configure(self, **overrides: Any) -> SegmentSettings | None:
        """Change settings without running (they apply to the next ``segment``)."""

        def work() -> SegmentSettings:
            self.settings = self._with_overrides(overrides)
            self._emit("result", "Settings updated.", step="configure", args=overrides)
            return self.settings

        return self._step("configure", dict(overrides), work)

    def inspect(self) -> tuple[RoleReport | None, QualityReport | None]:
        """Column roles and the quality report of the loaded table (before any clustering).

        From the last analysis when there is one for the current settings; else computed
        (seconds) and kept until the table or the settings change.
        """
        if self.analysis is not None:
            return self.analysis.roles, self.analysis.quality
        key = self.settings.model_dump_json()
        if self._inspected is not None and self._inspected[0] == key:
            return self._inspected[1], self._inspected[2]

        def work() -> tuple[RoleReport, QualityReport]:
            frame = self._frame()
            s = self.settings
            check_settings(frame, s)
            roles = infer_roles(frame, id_column=s.id_column, exclude=list(s.exclude),
                                outcomes=list(s.outcomes) if s.outcomes is not None else None)
            return roles, quality_report(frame, roles)

        result = self._step("inspect", {}, work, save=False)
        if result is None:
            return None, None
        self._inspected = (key, *result)
        return result

    def table(self) -> LoadedTable:
        """The loaded table (read again after a resume); ``InputError`` when there is none."""
        return self._loaded()

    def rows(self) -> int:
        """Customers in the analysis: the scope's, else the table's."""
        return len(self._frame())

    def _frame(self) -> pd.DataFrame:
        """The rows the session segments: the table, narrowed to the scope when there is one.
        Kept for the table and scope it was cut for: rows(), inspect() and the reports ask
        for it again, and a scope's mask reads every row."""
        table, scope = self._loaded(), self.settings.scope
        if scope is None:
            return table.frame
        cached = self._scoped_frame
        if cached is None or cached[0] is not table or cached[1] != scope:
            cached = self._scoped_frame = (table, scope, scope.apply(table.frame))
        return cached[2]

    @staticmethod
    def _scoped(frame: pd.DataFrame, settings: SegmentSettings) -> pd.DataFrame:
        return settings.scope.apply(frame) if settings.scope is not None else frame

    def export_memo(self, path: str | Path | None = None) -> MemoFiles | None:
        """Write the strategy memo (default: ``memo.md`` in the session folder)."""

        def work() -> MemoFiles:
            from copilot.report import write_memo

            if self.analysis is None:
                raise InputError("There is nothing to put in a memo yet; run the segmentation "
                                 "first.")
            out = self.output_path(path, self.session_dir / "memo.md")
            files = write_memo(self.analysis, self.writing, out, goal=self.goal)
            self._emit("result", f"Wrote the memo to {files.memo}.", step="export_memo",
                       path=str(files.memo), charts=[str(c) for c in files.charts])
            return files

        return self._step("export_memo", {"path": str(path)} if path else {}, work)

    def export_assignments(self, path: str | Path | None = None) -> Path | None:
        """Write each customer's segment ID, name and confidence as CSV (default:
        ``segments.csv`` in the session folder). Works after a resume: the per-row segments
        are read from the session folder."""

        def work() -> Path:
            if self.analysis is None:
                raise InputError("There are no segments to export yet; run the segmentation "
                                 "first.")
            source = self.assignments_path()
            if not source.is_file():
                raise InputError(f"The per-customer segments ({source}) are missing; run the "
                                 "segmentation again.")
            frame = pd.read_csv(source, dtype={0: str})
            names = {**self.segment_names(), -1: "Unassigned"}
            frame.insert(frame.columns.get_loc("segment") + 1, "segment_name",
                         frame["segment"].map(names).fillna("Unassigned"))
            out = self.output_path(path, self.session_dir / "segments.csv")
            atomic_write_text(out, csv_text(frame))
            self._emit("result", f"Wrote {len(frame):,} customers' segments to {out}.",
                       step="export_assignments", path=str(out), rows=len(frame))
            return out

        return self._step("export_assignments", {"path": str(path)} if path else {}, work)

    # --- operations on the saved model (issue 6) ---------------------------------------------

    def saved_model(self) -> SavedModel:
        """The session's saved model; ``InputError`` when segments were never computed."""
        if not (self.model_path() / "bundle.json").is_file():
            raise InputError("There is no saved model yet; run the segmentation first.")
        return load_bundle(self.model_path())

    def assign_new(self, path: str | Path, out: str | Path | None = None) -> Path | None:
        """Assign the customers in another file to the session's segments (CRM columns:
        segment, name, confidence, holdout, model version, time); default output
        ``assigned-<file>.csv`` in the session folder."""

        def work() -> Path:
            model = self.saved_model()
            result = assign_file(model, Path(path).expanduser())
            target = self.output_path(out, self.session_dir / f"assigned-{Path(path).stem}.csv",
                                  path)
            atomic_write_text(target, csv_text(result.frame))
            counts = result.frame["segment_name"].value_counts()
            self._emit("result", f"Assigned {len(result.frame):,} customers to {target}: "
                       + ", ".join(f"{name} {n:,}" for name, n in counts.items()) + "."
                       + "".join(f" {note}" for note in result.notes),
                       step="assign_new", path=str(target), rows=len(result.frame),
                       counts={str(k): int(v) for k, v in counts.items()})
            return target

        args = {"path": str(path), **({"out": str(out)} if out else {})}
        return self._step("assign_new", args, work, save=False)

    def check_drift(self, path: str | Path) -> DriftReport | None:
        """Compare a newer snapshot with the session's table through its saved model: who
        moved, PSI, centre shifts and a verdict; the report goes to ``drift.md``."""

        def work() -> DriftReport:
            from copilot.segmentation import check_snapshot, compare_snapshots, render_markdown

            model = self.saved_model()
            new = load_table(Path(path).expanduser()).frame
            key = model.info.id_column
            if key and key in new.columns:
                report = compare_snapshots(self._frame(), new, model,
                                           old_label=self.data_path.name if self.data_path
                                           else "the session's table", new_label=Path(path).name)
            else:  # no shared ID: the distribution checks against the model alone
                report = check_snapshot(new, model, new_label=Path(path).name)
            target = self.session_dir / "drift.md"
            atomic_write_text(target, render_markdown(report))
            self._emit("result", f"Drift verdict: {report.verdict.level}. "
                       f"{report.verdict.summary} " + " ".join(report.verdict.reasons[:3])
                       + f" The report is in {target}.",
                       step="check_drift", verdict=report.verdict.level, path=str(target))
            return report

        return self._step("check_drift", {"path": str(path)}, work, save=False)

    def export_crm(self, preset: str = "generic", path: str | Path | None = None) -> Path | None:
        """The session's customers as a CRM import file: ID, segment ID and name, confidence,
        holdout flag, model version, assigned-at; columns named for ``preset`` (generic,
        hubspot, salesforce). Default output ``crm-<preset>.csv`` in the session folder."""

        def work() -> Path:
            from copilot.segmentation import get_preset, write_crm_csv

            get_preset(preset)  # an unknown preset is refused before any work
            frame = self._crm_frame()
            out = self.output_path(path, self.session_dir / f"crm-{preset}.csv")
            write_crm_csv(frame, out, preset)
            held = int(frame["holdout"].sum())
            self._emit("result", f"Wrote {len(frame):,} customers for a {preset} import to {out} "
                       f"({held:,} flagged as the holdout group).", step="export_crm",
                       path=str(out), rows=len(frame), preset=preset)
            return out

        args = {"preset": preset, **({"path": str(path)} if path else {})}
        return self._step("export_crm", args, work, save=False)

    def write_glossary(self, folder: str | Path | None = None, *,
                       owners: dict[int, str] | None = None) -> Glossary | None:
        """Write the segment glossary (Markdown and JSON) as a new version beside the earlier
        ones in ``folder`` (default ``glossary/`` in the session folder), with what changed.
        ``owners`` sets segments' strategy owners (the others keep theirs)."""

        def work() -> Glossary:
            from copilot.segmentation import (
                build_glossary,
                is_definition,
                latest_glossary,
                read_glossary_assignments,
                unchanged,
                write_glossary,
            )

            if self.analysis is None:
                raise InputError("There are no segments to describe yet; run the "
                                 "segmentation first.")
            out = self.output_path(folder, self.session_dir / "glossary")
            segments = {p.segment for p in self.analysis.profiles if p.segment >= 0}
            for seg in owners or {}:
                if seg not in segments:
                    raise InputError(f"There is no segment {seg} to give an owner; the segments "
                                     f"are {', '.join(map(str, sorted(segments)))}.")
            frame = self._crm_frame()
            id_column = frame.columns[0]
            assignments = pd.Series(frame["segment"].to_numpy(),
                                    index=frame[id_column].astype(str).to_numpy())
            previous = latest_glossary(out)
            definitions = {}
            if self.writing is not None:  # the model's narratives open with a definition
                definitions = {n.segment: n.narrative for n in self.writing.narratives
                               if is_definition(n.narrative, n.author.writer)}
            # Only names someone gave: an engine placeholder ("Segment 2") must not stop a
            # continuing segment from keeping the glossary's name for it.
            names = {s: n for s, n in self.segment_names().items() if n != f"Segment {s}"}
            glossary = build_glossary(
                self.analysis, names=names, definitions=definitions, owners=owners,
                model_version=self.saved_model().info.bundle_id, previous=previous,
                previous_assignments=(read_glossary_assignments(out, previous)
                                      if previous is not None else None),
                assignments=assignments if id_column != "row" else None)
            if previous is not None and unchanged(glossary, previous):
                self._emit("result", f"The glossary in {out} is up to date (version "
                           f"{previous.version}).", step="write_glossary", path=str(out))
                return previous
            write_glossary(glossary, out, assignments=assignments if id_column != "row" else None)
            changes = "; ".join(c.text for c in glossary.changes[:4]) if glossary.changes else ""
            self._emit("result", f"Wrote glossary version {glossary.version} to {out}"
                       + (f": {changes}." if changes else "."), step="write_glossary",
                       path=str(out), version=glossary.version)
            return glossary

        args = {**({"folder": str(folder)} if folder else {}),
                **({"owners": dict(owners)} if owners else {})}
        return self._step("write_glossary", args, work, save=False)

    def _crm_frame(self) -> pd.DataFrame:
        """The session's own customers in the CRM frame, read and checked the way ``export``
        reads a folder (``copilot.workflow.read_own_customers``): one reader for both."""
        from copilot.workflow import read_own_customers

        if self.analysis is None:
            raise InputError("There are no segments to export yet; run the segmentation first.")
        own = read_own_customers(self.assignments_path(), self.analysis,
                                 model=self.saved_model(), names=self.segment_names())
        for note in own.notes:
            self.report_progress(note)
        return own.frame

    def segment_names(self) -> dict[int, str]:
        """Each segment's name: the writing's (the user's renames included), else "Segment N"."""
        if self.analysis is None:
            return {}
        names = {p.segment: f"Segment {p.segment}" for p in self.analysis.profiles}
        if self.writing is not None:
            names.update({n.segment: n.name for n in self.writing.narratives})
        return names

    def report_progress(self, text: str) -> None:
        """A one-line note for the front end (e.g. the agent switching strategy)."""
        self._emit("progress", text, stage="agent")

    def report_error(self, step: str, err: CopilotError) -> None:
        """Tell the subscribers about a user-level error found outside a step (tool arguments)."""
        self.last_error = str(err)
        self._emit("error", str(err), step=step, error=type(err).__name__)

    def client(self, injected: LLMClient | None = None) -> LLMClient:
        """The LLM client for this session: ``injected`` (tests), else one opened once from the
        settings and kept (the embedded model takes seconds to load)."""
        if injected is not None:
            injected.on_event = self._llm_event
            return injected
        if self._client is None:
            self._client = open_client(self.llm, on_event=self._llm_event,
                                       progress=self._model_progress)
        return self._client

    def say(self, role: Role, text: str) -> Message:
        """Append a conversation turn, tell the subscribers, and save."""
        message = Message(role=role, text=text)
        self.conversation.append(message)
        self._emit("message", text, role=role)
        self._save()
        return message

    # --- step machinery -----------------------------------------------------------------------

    def _step(self, name: str, args: dict[str, Any], work: Callable[[], T], *,
              save: bool = True) -> T | None:
        """Announce, run and save one step; a user-level failure is an event, not an exception.

        Steps assign state only after their work succeeded, so a failed step leaves the session
        (and its last save) as they were and is not saved again.
        """
        self._emit("tool_call", f"{name}({_format_args(args)})", step=name, args=args)
        self.last_error = None
        try:
            value = work()
        except CopilotError as err:
            self.report_error(name, err)
            return None
        except Exception as err:
            self._emit("error", f"Internal error in {name}: {type(err).__name__}: {err}.",
                       step=name, error=type(err).__name__)
            raise
        if save:
            self._save()
        return value

    # The files a session keeps for itself: no output may take their place.
    OWN_FILES = ("session.json", "analysis.json", "assignments.csv", "writing.json",
                 "features.csv")

    def output_path(self, path: str | Path | None, default: Path, *inputs: str | Path) -> Path:
        """Where an output goes: ``path`` (the user's) or ``default`` in the session folder.

        Refused in one sentence, before anything is written: the session's table or another
        input, a file inside the saved model, or one of the session's own files (a memo over
        ``session.json`` would be overwritten by the next save, and destroy the session)."""
        out = Path(path).expanduser() if path else default
        refuse_overwrite(out, *(p for p in (self.data_path, *inputs) if p), self.model_path())
        if path:
            for name in self.OWN_FILES:
                if same_file(out, self.session_dir / name):
                    raise InputError(f"{path} is the session's own {name}; choose another path "
                                     "for this output.")
        return out

    def _with_overrides(self, overrides: dict[str, Any]) -> SegmentSettings:
        update = dict(overrides)
        if update.get("k") is not None and "k_range" not in update:
            update["k_range"] = None
        if update.get("k_range") is not None and "k" not in update:
            update["k"] = None
        try:
            # Validate rather than model_copy: an unknown name or a wrong type must be refused.
            return SegmentSettings.model_validate({**self.settings.model_dump(), **update})
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            if first["type"] == "extra_forbidden":
                raise SettingsError(f"There is no setting named {field}; choose from "
                                    f"{', '.join(SegmentSettings.model_fields)}.") from None
            raise SettingsError(f"The setting {field} cannot be {first.get('input')!r}: "
                                f"{first['msg'].lower()}.") from None

    def _loaded(self) -> LoadedTable:
        """The table, read again from ``data_path`` after a resume."""
        if self._table is None:
            if self.data_path is None:
                raise InputError("No table is loaded yet; load a customer file first.")
            self._emit("progress", f"Reading {self.data_path.name} again.", stage="load",
                       fraction=0.0)
            self._table = load_table(self.data_path)
        return self._table

    def _progress(self, stage: str, fraction: float, message: str) -> None:
        self._emit("progress", message, stage=stage, fraction=fraction)

    def _llm_event(self, message: str) -> None:
        # A name as soon as it is chosen is news, not just status: the chat keeps the line.
        self._emit("progress", message, stage="name" if NAMED_EVENT.match(message) else "llm")

    def _model_progress(self, done: int, total: int) -> None:
        self._emit("progress", "Preparing the embedded model (first run only).", stage="model",
                   fraction=done / total if total else 0.0)

    # --- saving and resuming ------------------------------------------------------------------

    def _adopt_analysis_on_disk(self) -> None:
        try:
            analysis = SegmentAnalysis.model_validate_json(
                (self.session_dir / "analysis.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        rows = sum(1 for _ in self.assignments_path().open(encoding="utf-8")) - 1
        if (str(analysis.source.get("path")) != str(self.data_path) or rows != analysis.n_rows
                or analysis.inconsistency() is not None):
            return
        self.analysis = analysis
        self.notices.append("The session stopped before it saved its segments; they were read "
                            "back from analysis.json and assignments.csv in its folder.")
        self._save()

    def snapshot(self) -> SessionFile:
        """The session as it is saved."""
        return SessionFile(
            app_version=__version__,
            data_path=str(self.data_path) if self.data_path else None,
            goal=self.goal,
            settings=self.settings,
            llm=self.llm.model_copy(update={"api_key": None}),
            conversation=tuple(self.conversation),
            # mode="json" is the serialisation analysis.json and writing.json are written with.
            analysis=self.analysis.model_dump(mode="json") if self.analysis else None,
            writing=self.writing.model_dump(mode="json") if self.writing else None,
            user_names=self.user_names,
        )

    def _save(self) -> None:
        """Replace session.json atomically (temp file beside it, fsync, rename)."""
        try:
            atomic_write_text(self.path, self.snapshot().model_dump_json(indent=2))
        except CopilotError as err:
            self._emit("error", str(err), step="save", error=type(err).__name__)
        except Exception as err:
            self._emit("error", f"Internal error while saving the session: {type(err).__name__}: "
                       f"{err}.", step="save", error=type(err).__name__)
            raise

    @classmethod
    def resume(cls, session_dir: str | Path, *, llm: LLMSettings | None = None) -> Session:
        """Reopen a saved session; raise ``InputError`` (one sentence) for a missing, corrupt or
        foreign file.

        Goal, settings, conversation and results come back as they were saved (results as
        ``SegmentAnalysis`` and ``Writing`` objects; a result that no longer validates is left
        out with a notice). The table is read again from ``data_path`` when a step needs it.
        The LLM settings are the saved ones without the API key (providers fall back to the
        environment's key) unless ``llm`` is given.
        """
        state = _read(Path(session_dir) / SESSION_FILE)
        session = cls(session_dir, settings=state.settings, llm=llm or state.llm)
        session.data_path = Path(state.data_path) if state.data_path else None
        session.goal = state.goal
        session.conversation = list(state.conversation)
        session.user_names = dict(state.user_names)
        if state.analysis is not None:
            try:
                analysis = SegmentAnalysis.model_validate(state.analysis)
            except ValidationError:
                session.notices.append("The saved segments do not match this version of "
                                       "segment-copilot; run segment again.")
            else:
                wrong = analysis.inconsistency()
                if wrong is None:
                    session.analysis = analysis
                else:  # an edited file: no memo of "99 segments" from it
                    session.notices.append(f"The saved segments were left out because {wrong}; "
                                           "run the segmentation again.")
        elif (session.session_dir / "analysis.json").is_file() and session.assignments_path(
                ).is_file():
            # Stopped between writing the segments and saving the session (a kill during
            # ask): the segments on disk are this session's when they name its table.
            session._adopt_analysis_on_disk()
        if state.writing is not None and session.analysis is not None:
            try:
                session.writing = Writing.model_validate(state.writing)
            except ValidationError:
                session.notices.append("The saved names and strategy do not match this version "
                                       "of segment-copilot; run write again.")
        return session


def _scope_sentence(scope: Scope, frame: pd.DataFrame) -> str:
    """The one sentence a scope is told in, with its undo."""
    rows = int(scope.mask(frame).sum())
    said = f", as the goal says \u201c{scope.words}\u201d" if scope.words else ""
    return (f"Segmenting only the {rows:,} customers with {scope.describe()} "
            f"({percent(rows / len(frame), 0)} of {len(frame):,}){said}; {UNDO_SCOPE}.")


def _read(path: Path) -> SessionFile:
    raw = read_document(path, what="session", fmt=SESSION_FORMAT, version_key="version",
                        max_version=SESSION_VERSION, exact=True,
                        find="choose the folder of a saved session or start a new one",
                        fix="start a new session in another folder")
    try:
        return SessionFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The session file {path} is damaged ({field}: {first['msg'].lower()}); "
                         "delete it or start a new session in another folder.") from None


def _drafts(analysis: SegmentAnalysis) -> Writing:
    """Deterministic names and narratives (no model), so a rename works without an LLM."""
    return write_all(analysis, LLMClient(None, provider="none", model=None))


def _with_user_names(writing: Writing, names: dict[int, str]) -> Writing:
    """``writing`` with the user's names in the narratives, opportunities and plans."""
    if not names:
        return writing
    user = Authorship(writer="user", provider=None, model=None, prompt_id="rename",
                      prompt_version=0, attempts=0, status="first try")
    # The narrative keeps its own author: the user named the segment, not the story.
    narratives = tuple(
        n.model_copy(update={"name": names[n.segment], "author": user,
                             "narrative_author": n.story_author}) if n.segment in names
        else n for n in writing.narratives)
    strategy = writing.strategy
    if strategy is not None:
        strategy = strategy.model_copy(update={
            "opportunities": tuple(o.model_copy(update={"name": names.get(o.segment, o.name)})
                                   for o in strategy.opportunities),
            "plans": tuple(p.model_copy(update={"name": names.get(p.segment, p.name)})
                           for p in strategy.plans)})
    return writing.model_copy(update={"narratives": narratives, "strategy": strategy})


def _format_args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())
