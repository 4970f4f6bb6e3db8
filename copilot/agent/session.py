"""A headless analysis session: data, goal, settings, results and conversation, saved as it goes.

Every step (``load``, ``set_goal``, ``segment``, ``write``, ``say``) emits events to the
subscribers, changes the session only when it succeeds, and then saves the whole session to
``session_dir/session.json`` (the machinery, the state and save/resume are in
``copilot.agent.state``). The steps are thin: the use-cases themselves are in
``copilot.workflow``, which the commands call too, so the chat and a command cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot.agent.outputs import SessionOutputs
from copilot.agent.state import (
    SESSION_FILE,
    SESSION_FORMAT,
    SESSION_VERSION,
    UNDO_SCOPE,
    SessionFile,
)
from copilot.core import InputError
from copilot.llm import LLMClient, Writing
from copilot.segmentation import (
    LoadedTable,
    QualityReport,
    RoleReport,
    Scope,
    SegmentAnalysis,
    SegmentSettings,
    is_database_url,
    load_table,
    redact,
)
from copilot.workflow import (
    add_strategy,
    column_roles,
    given_names,
    inspect_table,
    rename_segment,
    scope_sentence,
    segment_table,
    settings_with,
    write_segments,
)

__all__ = ["SESSION_FILE", "SESSION_FORMAT", "SESSION_VERSION", "Session", "SessionFile"]


class Session(SessionOutputs):
    """One user's analysis, step by step (see ``SessionState`` for its state and events)."""

    def load(self, path: str | Path, *, query: str | None = None,
             table: str | None = None) -> LoadedTable | None:
        """Read a customer table (a file, or a database URL with ``query`` or ``table``); a new
        table drops the results computed from the old one."""

        def work() -> LoadedTable:
            loaded = load_table(str(path), query=query, table=table)
            self._table = loaded
            if loaded.from_database:  # the URL without its password, never the password
                self.data_path, self.data_query, self.data_table = loaded.source, query, table
            else:  # resolved: resume may run from elsewhere
                self.data_path = Path(path).expanduser().resolve()
                self.data_query = self.data_table = None
            self._drop_results()
            frame = loaded.frame
            self._emit("result", f"Loaded {len(frame):,} rows and {len(frame.columns)} columns "
                       f"from {self.data_name}.", step="load", path=str(self.data_path),
                       rows=len(frame), columns=len(frame.columns), format=loaded.format,
                       notes=list(loaded.notes))
            # Another table: a scope read from the goal is read again against its columns.
            self.settings = self.settings.model_copy(update={"scope": None})
            self._scope_chosen = False
            self._scope_from_goal()
            return loaded

        shown = redact(str(path)) if is_database_url(str(path)) else str(path)
        given = {k: v for k, v in (("query", query), ("table", table)) if v}
        return self._step("load", {"path": shown, **given}, work)

    def build_features(self, path: str | Path, *, id_column: str, time_column: str,
                       amount: str | None = None, event: str | None = None,
                       order: str | None = None, product: str | None = None,
                       purchase_event: str | None = None, as_of: str | None = None,
                       horizon_days: int | None = None) -> Path | None:
        """Turn an event or transaction log into one row per customer (``features.csv`` in the
        session folder) and load that as the table; with ``as_of``, features come from before
        the cut-off and ``outcome_`` columns from after it, so segments are tested on the
        future."""
        options = {k: v for k, v in (("amount", amount), ("event", event), ("order", order),
                                     ("product", product), ("purchase_event", purchase_event))}

        def work() -> Path:
            from copilot.segmentation import EventSpec
            from copilot.workflow import build_feature_file

            out = self.session_dir / "features.csv"
            s = build_feature_file(path, out, EventSpec(id=id_column, time=time_column,
                                                        **options),
                                   as_of=as_of, horizon_days=horizon_days,
                                   progress=self._progress)
            self._emit("result", s.headline, step="build_features", path=str(out),
                       customers=s.n_customers, features=len(s.features),
                       outcomes=[o.name for o in s.outcomes])
            return out

        args = {"path": str(path), "id_column": id_column, "time_column": time_column,
                **{k: v for k, v in (*options.items(), ("as_of", as_of),
                                     ("horizon_days", horizon_days)) if v}}
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
        roles = (self._inspected[1] if self._inspected is not None else
                 column_roles(frame, self.settings))
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
        self.scope_note = scope_sentence(found.scope, frame, UNDO_SCOPE)
        self._emit("result", self.scope_note, step="scope")

    def _set_scope(self, scope: Scope | None) -> None:
        # Other customers: the segments, names and strategy described the previous population.
        self.settings = self.settings.model_copy(update={"scope": scope})
        self._drop_results()

    def set_scope(self, text: str) -> Scope | None | bool:
        """``/scope COLUMN=LEVEL[,LEVEL]`` narrows the table, ``/scope all`` undoes a scope;
        the segments are computed again on the next step. Returns the scope (None for all), or
        False when ``text`` was refused (the reason is the step's error)."""

        def work() -> Scope | None:
            from copilot.workflow import read_scope

            frame = self._loaded().frame
            scope = read_scope(text, frame)
            if scope != self.settings.scope:
                self._set_scope(scope)
            self._scope_chosen = True
            self.scope_note = (f"All {len(frame):,} customers will be segmented (no scope)."
                               if scope is None else scope_sentence(scope, frame, UNDO_SCOPE))
            self._emit("result", self.scope_note, step="scope")
            return scope

        before = self.last_error
        result = self._step("scope", {"text": text}, work)
        if result is None and self.last_error and self.last_error != before:
            return False
        return result

    def segment(self, **overrides: Any) -> SegmentAnalysis | None:
        """Run the engine with the session's settings, updated by ``overrides`` (e.g. ``k=4``),
        and publish the run to the session folder (assignments.csv, analysis.json, model/), so
        ``assign``, ``compare`` and ``export`` work from it after a resume. The settings are kept
        only when the run succeeds; the writing is dropped: it describes the previous segments.
        """

        def work() -> SegmentAnalysis:
            settings = settings_with(self.settings, overrides)
            table = self._loaded()
            source = {"path": str(self.data_path), "format": table.format,
                      "rows": len(table.frame), "columns": len(table.frame.columns),
                      **{k: v for k, v in (("query", self.data_query),
                                           ("table", self.data_table)) if v}}
            # The inspect step's roles and quality, when they were read under these settings:
            # the engine does not read them a second time.
            inspected = (self._inspected[1:] if self._inspected is not None
                         and self._inspected[0] == settings.model_dump_json() else None)
            run = segment_table(table.frame, settings, self.folder, source=source,
                                progress=self._progress, inspected=inspected)
            self.settings, self.run, self.analysis, self.writing = settings, run, run.analysis, None
            self.user_names = {}  # new segments: the old names describe other customers
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

            analysis = report_themes_and_anchors(self.analysis, self._frame(), self.labels(),
                                                 progress=self._progress, **update)
            self.folder.write_analysis(analysis)
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

    def write(self, client: LLMClient | None = None, *,
              initiatives: tuple[str, ...] | None = None,
              with_strategy: bool = True) -> Writing | None:
        """Name the segments and, with a goal (and ``with_strategy``), draft the strategy.

        ``client`` defaults to the session's own, opened once from its LLM settings; tests
        inject a scripted one. Its ``on_event`` is routed to the subscribers as progress events.
        Names the user gave (``rename``) are kept when they are still unique.
        """

        def work() -> Writing:
            if self.analysis is None:
                raise InputError("There are no segments to write about yet; run segment first.")
            self.writing = writing = write_segments(
                self.analysis, self.client(client), goal=self.goal, initiatives=initiatives,
                with_strategy=with_strategy, user_names=self.user_names)
            self.folder.rename_model(given_names(self.writing))
            self._emit("result", writing.headline, step="write",
                       names=[n.name for n in writing.narratives],
                       notices=list(writing.notices), calls=writing.calls)
            return writing

        args: dict[str, Any] = {"initiatives": list(initiatives)} if initiatives else {}
        if not with_strategy:
            args["with_strategy"] = False
        return self._step("write", args, work)

    def draft_strategy(self, client: LLMClient | None = None, *,
                       initiatives: tuple[str, ...] | None = None) -> Writing | None:
        """Draft (or redraft) the strategy for the current names and goal."""

        def work() -> Writing:
            if self.analysis is None:
                raise InputError("There are no segments to plan for yet; run segment first.")
            if not self.goal:
                raise InputError("A strategy needs a goal; set one first (for example "
                                 "/goal Reduce churn among paying customers).")
            self.writing = writing = add_strategy(
                self.analysis, self.writing, self.client(client), goal=self.goal,
                initiatives=initiatives, user_names=self.user_names)
            strategy = writing.strategy
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
            done = rename_segment(self.analysis, self.writing, self.user_names, segment, name)
            self.user_names, self.writing = done.user_names, done.writing
            self.folder.rename_model(given_names(self.writing))
            self._emit("result", f"Segment {segment} is now {done.name!r} (was {done.old!r}).",
                       step="rename", segment=segment, name=done.name, old=done.old)
            return done.writing

        return self._step("rename", {"segment": segment, "name": name}, work)

    def configure(self, **overrides: Any) -> SegmentSettings | None:
        """Change settings without running (they apply to the next ``segment``)."""

        def work() -> SegmentSettings:
            self.settings = settings_with(self.settings, overrides)
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

        result = self._step("inspect", {}, lambda: inspect_table(self._frame(), self.settings),
                            save=False)
        if result is None:
            return None, None
        self._inspected = (key, *result)
        return result
