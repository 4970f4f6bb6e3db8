"""A session's state, its events, its step machinery, and saving and resuming it.

``Session`` (``copilot.agent.session``) adds the steps on top of this: each step emits events
to the subscribers, changes the state only when it succeeds, and then saves the whole session
to ``session_dir/session.json`` atomically, so a crash or a full disk leaves the previous save
intact. A user-level failure (a missing file, an impossible k) becomes one ``error`` event and
the step returns None; the session stays usable. Anything else is a bug: it is reported as an
``error`` event too, then raised.

The loaded table is never saved: ``resume`` reads it again from its path the first time a step
needs it. Results are saved with the serialisation of ``analysis.json`` and ``writing.json``
(the pydantic models' JSON) and come back as full ``SegmentAnalysis`` and ``Writing`` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

import numpy as np
import pandas as pd
from pydantic import ValidationError

from copilot import __version__
from copilot.agent.events import Event, EventKind, Message, Role, Subscriber
from copilot.core import (
    CopilotError,
    Frozen,
    InputError,
    atomic_write_text,
    refuse_overwrite,
    same_file,
)
from copilot.llm import NAMED_EVENT, LLMClient, LLMSettings, Writing, open_client, resolve_settings
from copilot.segmentation import (
    LoadedTable,
    QualityReport,
    RoleReport,
    SavedModel,
    Scope,
    SegmentAnalysis,
    SegmentationRun,
    SegmentSettings,
    is_database_url,
    load_table,
    read_document,
    redact_text,
)
from copilot.workflow import ANALYSIS_FILE, AnalysisFolder, segment_names

SESSION_FILE = "session.json"
SESSION_FORMAT = "segment-copilot-session"
# How a scope is undone, in every front end's words (chat, ask).
UNDO_SCOPE = "/scope all (in ask: --scope all) segments everyone"

# Bump when the saved shape changes; resume refuses other versions rather than guess.
# 2: the segments live in analysis.json only (``analysis_file``); a version-1 file, which holds
# them inline, still resumes.
SESSION_VERSION = 2

T = TypeVar("T")


class SessionFile(Frozen):
    """The saved shape of a session (``session.json``).

    The segments are saved once, in the folder's ``analysis.json``: ``analysis_file`` names it
    when the session has segments. ``analysis`` is read only from a version-1 file, which held
    them inline. ``writing`` holds the same JSON as ``writing.json``. Both are kept as plain JSON
    here so that a file whose results no longer validate (saved by another engine version)
    still resumes, without them.
    """

    format: Literal["segment-copilot-session"] = SESSION_FORMAT
    version: int = SESSION_VERSION
    app_version: str
    data_path: str | None  # a file, or a database URL without its password
    data_query: str | None = None  # a database source: the SQL, or
    data_table: str | None = None  # the table
    goal: str | None
    settings: SegmentSettings
    llm: LLMSettings  # saved without the API key: a secret has no place in a project folder
    conversation: tuple[Message, ...]
    analysis: dict[str, Any] | None = None
    analysis_file: str | None = None
    writing: dict[str, Any] | None
    user_names: dict[int, str] = {}  # segment -> the name the user gave it (rename)




class SessionState:
    """One user's analysis: its state, events and saving; the steps are ``Session``'s.

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
        # A file's resolved path, or a database URL without its password (str), whose rows
        # come from ``data_query`` or ``data_table``.
        self.data_path: Path | str | None = None
        self.data_query: str | None = None
        self.data_table: str | None = None
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


    def _drop_results(self) -> None:
        # Another table or population: the segments, names and strategy described the old one.
        self.analysis = self.writing = self.run = None
        self.user_names = {}
        self._inspected = None

    # --- the session folder -------------------------------------------------------------------

    @property
    def folder(self) -> AnalysisFolder:
        """The session folder as an analysis folder (assignments.csv, analysis.json, model/)."""
        return AnalysisFolder(self.session_dir)

    def assignments_path(self) -> Path:
        """The per-row segments of the last ``segment`` (``assignments.csv`` in the folder)."""
        return self.folder.assignments

    def model_path(self) -> Path:
        """The saved model of the last ``segment`` (the ``model/`` folder in the session)."""
        return self.folder.model

    def saved_model(self) -> SavedModel:
        """The session's saved model; ``InputError`` when segments were never computed."""
        return self.folder.saved_model()

    def labels(self) -> np.ndarray:
        """Each row's segment: from the last run, or after a resume from assignments.csv."""
        return self.run.labels if self.run is not None else self.folder.labels()

    def segment_names(self) -> dict[int, str]:
        """Each segment's name: the writing's (the user's renames included), else "Segment N"."""
        return segment_names(self.analysis, self.writing)

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
        """Append a conversation turn, tell the subscribers, and save. A password in a URL in
        the text is redacted first: the conversation is saved in the session folder."""
        text = redact_text(text)
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
        files = (p for p in (self.data_path, *inputs) if p and not is_database_url(str(p)))
        refuse_overwrite(out, *files, self.model_path())
        if path:
            for name in self.OWN_FILES:
                if same_file(out, self.session_dir / name):
                    raise InputError(f"{path} is the session's own {name}; choose another path "
                                     "for this output.")
        return out

    def _loaded(self) -> LoadedTable:
        """The table, read again from ``data_path`` after a resume."""
        if self._table is None:
            if self.data_path is None:
                raise InputError("No table is loaded yet; load a customer file first.")
            self._emit("progress", f"Reading {self.data_name} again.", stage="load",
                       fraction=0.0)
            # A database URL was saved without its password: libpq takes it from PGPASSWORD
            # or ~/.pgpass, and says so in one sentence when neither has it.
            self._table = load_table(str(self.data_path), query=self.data_query,
                                     table=self.data_table)
        return self._table

    @property
    def data_name(self) -> str:
        """The table as a user reads it: a file's name, or the table or query and its database
        (without password)."""
        if self.data_path is None:
            return "the session's table"
        if is_database_url(str(self.data_path)):
            what = f"table {self.data_table}" if self.data_table else "a query"
            return f"{what} in {self.data_path}"
        return Path(self.data_path).name

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
        analysis = self.folder.analysis_of(self.data_path)
        if analysis is None:
            return
        self.analysis = analysis
        self.notices.append("The session stopped before it saved its segments; they were read "
                            "back from analysis.json and assignments.csv in its folder.")
        self._save()

    def _resume_analysis(self, state: SessionFile) -> None:
        """The saved segments: from analysis.json (or a version-1 file's inline copy), left
        out with a notice when they no longer read, validate or add up."""
        try:
            analysis = (SegmentAnalysis.model_validate(state.analysis)
                        if state.analysis is not None else self.folder.read_analysis())
        except ValidationError:
            self.notices.append("The saved segments do not match this version of "
                                "segment-copilot; run segment again.")
            return
        except CopilotError as err:  # analysis.json missing or damaged: its own sentence
            self.notices.append(f"The saved segments were left out: {err}")
            return
        wrong = analysis.inconsistency()
        if wrong is None:
            self.analysis = analysis
        else:  # an edited file: no memo of "99 segments" from it
            self.notices.append(f"The saved segments were left out because {wrong}; "
                                "run the segmentation again.")

    def snapshot(self) -> SessionFile:
        """The session as it is saved."""
        return SessionFile(
            app_version=__version__,
            data_path=str(self.data_path) if self.data_path else None,
            data_query=self.data_query,
            data_table=self.data_table,
            goal=self.goal,
            settings=self.settings,
            llm=self.llm.model_copy(update={"api_key": None}),
            conversation=tuple(self.conversation),
            # mode="json" is the serialisation analysis.json and writing.json are written with.
            analysis_file=ANALYSIS_FILE if self.analysis else None,
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
    def resume(cls, session_dir: str | Path, *, llm: LLMSettings | None = None) -> Self:
        """Reopen a saved session; raise ``InputError`` (one sentence) for a missing, corrupt or
        foreign file.

        Goal, settings, conversation and results come back as they were saved (results as
        ``SegmentAnalysis`` and ``Writing`` objects; a result that no longer validates is left
        out with a notice). The table is read again from ``data_path`` when a step needs it.
        The LLM settings are the saved ones without the API key (providers fall back to the
        environment's key) unless ``llm`` is given.
        """
        state = read_session_file(Path(session_dir) / SESSION_FILE)
        session = cls(session_dir, settings=state.settings, llm=llm or state.llm)
        session.data_path = (None if not state.data_path else state.data_path
                             if is_database_url(state.data_path) else Path(state.data_path))
        session.data_query, session.data_table = state.data_query, state.data_table
        session.goal = state.goal
        session.conversation = list(state.conversation)
        session.user_names = dict(state.user_names)
        if state.analysis is not None or state.analysis_file is not None:
            session._resume_analysis(state)
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




def read_session_file(path: Path) -> SessionFile:
    raw = read_document(path, what="session", fmt=SESSION_FORMAT, version_key="version",
                        max_version=SESSION_VERSION,
                        find="choose the folder of a saved session or start a new one",
                        fix="start a new session in another folder")
    try:
        return SessionFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The session file {path} is damaged ({field}: {first['msg'].lower()}); "
                         "delete it or start a new session in another folder.") from None




def _format_args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())
