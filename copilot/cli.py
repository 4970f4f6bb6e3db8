"""The ``segment-copilot`` command line.

stdout carries the answer (the summary, or JSON with --json); stderr carries progress and
errors. Exit codes: 0 success, 2 bad input (one sentence on stderr, no traceback), 1 an
internal error, 130 interrupted. Set SEGMENT_COPILOT_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from copilot import __version__
from copilot.commands import out_table_options, source_options
from copilot.core import CopilotError, InputError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one sentence and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}; run '{self.prog} --help' for the options.\n")


def _k_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.replace("..", "-").split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a k range like 3-7") from None
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="segment-copilot",
                     description="From a customer table to segments you can act on.")
    parser.add_argument("--version", action="version", version=f"segment-copilot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    seg = sub.add_parser("segment", help="run the deterministic segmentation on a table",
                         description="Segment a customer table: roles, quality, a sweep over "
                         "algorithms and k, the chosen segments with profiles, rules and "
                         "outcome validation. Writes assignments.csv and analysis.json.")
    seg.add_argument("data", help="CSV, TSV, Parquet, Excel, JSON or JSON Lines file, one row "
                     "per customer, or a database URL with --query or --table")
    source_options(seg)
    _segment_options(seg)
    seg.add_argument("--out-dir", default="segment-out",
                     help="folder for assignments.csv and analysis.json (default: segment-out)")
    seg.add_argument("--sheet", default=None, help="Excel sheet name or number")
    _engine_options(seg, "the model is chosen on a sample of at most 200,000 rows, every row is "
                    "scored in Spark and the assignments are written as assignments.parquet")

    _llm_options(seg)
    demo = sub.add_parser("demo", help="run the whole analysis on bundled demo data",
                          description="Zero set-up demo: segments a bundled synthetic SaaS "
                          "customer table (4,000 customers, churn and revenue outcomes).")
    demo.add_argument("--out-dir", default="segment-copilot-demo",
                      help="folder for the outputs (default: segment-copilot-demo)")
    demo.add_argument("--json", action="store_true", help="print the analysis JSON on stdout")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _llm_options(demo, default_goal=DEMO_GOAL)
    ask = sub.add_parser("ask", help="one question or request, answered non-interactively",
                         description="Run the agent once: load DATA, act on PROMPT (a goal, "
                         "'use 4 segments', a question...), segment, name, plan and write the "
                         "memo. The answer goes to stdout, progress to stderr.")
    ask.add_argument("prompt", help="what you want, e.g. 'Find segments to reduce churn'")
    ask.add_argument("--data", required=True, help="the customer table (a file, or a database "
                     "URL with --query or --table)")
    source_options(ask)
    ask.add_argument("--out", help="where to write the memo (default: memo.md in the session "
                     "folder)")
    ask.add_argument("--scope", metavar="COLUMN=LEVEL|all",
                     help="segment only the customers with this level (default: the population "
                     "the goal names, e.g. 'among month-to-month customers'); 'all' for everyone")
    ask.add_argument("--session-dir", help="folder for the session (default: a new folder under "
                     "segment-copilot-sessions/)")
    _segment_options(ask)
    _llm_options(ask)

    memo = sub.add_parser("memo", help="write the strategy memo of a saved session",
                          description="Write the Markdown strategy memo (with PNG charts beside "
                          "it) from a saved session folder.")
    memo.add_argument("session", help="the session folder (holds session.json)")
    memo.add_argument("--out", help="where to write the memo (default: memo.md in the session "
                      "folder)")

    chat = sub.add_parser("chat", help="the conversational terminal app",
                          description="Open the chat app. Give a table to start with it, or "
                          "--resume a saved session folder.")
    chat.add_argument("data", nargs="?", help="a customer table to load first (a file, or a "
                      "database URL with --query or --table)")
    source_options(chat)
    chat.add_argument("--resume", metavar="SESSION", help="reopen a saved session folder")
    chat.add_argument("--session-dir", help="folder for a new session (default: a new folder "
                      "under segment-copilot-sessions/)")
    _provider_options(chat)

    _add_assign(sub)

    doctor = sub.add_parser("doctor", help="check the LLM provider: which, whether it answers, how fast",
                            description="Say which LLM provider is active (and why), whether it "
                            "answers a tiny structured request, how fast, and what to do if not.")
    _provider_options(doctor)
    for module in _operational_commands():
        module.add_parser(sub)
    return parser


def _add_assign(sub) -> None:
    """``assign MODEL DATA --out FILE | --out-table NAME``."""
    assign = sub.add_parser("assign", help="assign new customers to the segments of a saved model",
                            description="Assign each row of DATA to a segment of the saved MODEL "
                            "(the model/ folder segment --out-dir wrote), with a confidence.")
    assign.add_argument("model", help="the saved model folder")
    assign.add_argument("data", help="the customers to assign (same columns as the training "
                        "table): a file, or a database URL with --query or --table")
    source_options(assign)
    assign.add_argument("--out", help="the CSV to write")
    out_table_options(assign)
    assign.add_argument("--id", dest="id_column", metavar="COL",
                        help="this table's customer ID column, when it is not named as in the "
                        "training table")
    assign.add_argument("--holdout-share", type=float, default=0.1,
                        help="share of each segment flagged as the control group (default 0.1)")
    assign.add_argument("--salt", default="segment-copilot-holdout",
                        help="names the experiment: the same salt gives the same holdout group")
    _engine_options(assign, "every row is scored in Spark and --out is a Parquet folder")


def _operational_commands():
    from copilot.commands import operational_commands

    return operational_commands()


def _engine_options(p: argparse.ArgumentParser, spark_does: str) -> None:
    g = p.add_argument_group("Engine (past one machine: pip install \".[spark]\")")
    g.add_argument("--engine", choices=("local", "spark"), default="local",
                   help=f"local (default) or spark: DATA may then be a Parquet folder, a CSV or "
                   f"a table name; {spark_does}")
    g.add_argument("--master", metavar="URL", default=None,
                   help="the Spark master: local[N], spark://HOST:7077, yarn, k8s://... or "
                   "sc://HOST:15002 for Spark Connect (default: $SPARK_REMOTE, $SPARK_MASTER, "
                   "else local[*])")


def _segment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id", dest="id_column", help="the customer ID column (default: inferred)")
    p.add_argument("--outcome", action="append", dest="outcomes", metavar="COL",
                   help="an outcome column for validation only (repeatable; default: inferred "
                   "from names like churn or revenue)")
    p.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="a column to leave out (repeatable)")
    p.add_argument("--keep", action="append", default=[], metavar="COL",
                   help="keep a feature that looks like a leak of an outcome (repeatable; by "
                   "default such columns are left out, with a warning)")
    k = p.add_mutually_exclusive_group()
    k.add_argument("--k", type=int, help="the number of segments (default: chosen)")
    k.add_argument("--k-range", type=_k_range, metavar="LO-HI",
                   help="the k to try and prefer, e.g. 3-7 (default: try 2-10, prefer 3-7)")
    p.add_argument("--algorithm", default="auto",
                   choices=["auto", "kmeans", "gmm", "hierarchical", "hdbscan"],
                   help="clustering algorithm (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--min-share", type=float, default=0.02,
                   help="smallest acceptable segment as a share of customers (default 0.02)")
    p.add_argument("--json", action="store_true", help="print the analysis JSON on stdout")
    g = p.add_argument_group("Firmographic anchors and free text")
    anchors = g.add_mutually_exclusive_group()
    anchors.add_argument("--anchor", action="append", dest="anchors", metavar="COL",
                         help="a firmographic anchor (industry, company size, region ...) whose "
                         "levels are compared across the segments (repeatable; default: the "
                         "columns whose names say so)")
    anchors.add_argument("--no-anchors", action="store_true",
                         help="compare no anchor across the segments, not even suggested ones")
    g.add_argument("--anchor-mode", choices=("report", "within"), default="report",
                   help="report: segment everyone, then show how each anchor spreads across the "
                   "segments (default); within: segment each level of the one --anchor "
                   "separately (segment command only)")
    text = g.add_mutually_exclusive_group()
    text.add_argument("--text", action="append", dest="text_columns", metavar="COL",
                      help="a free-text column (reviews, tickets, NPS comments) whose themes are "
                      "listed per segment (repeatable; default: detected)")
    text.add_argument("--no-text", action="store_true",
                      help="look for themes in no free-text column")


DEMO_GOAL = "Reduce churn among paying customers"


def _provider_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LLM (default: the embedded offline model)")
    g.add_argument("--provider", choices=("local", "openai", "openai-compatible", "fake", "none"),
                   help="who writes names and strategy (default: SEGMENT_COPILOT_PROVIDER, the "
                   "config file, else local)")
    g.add_argument("--model", help="model name (openai, openai-compatible)")
    g.add_argument("--base-url", help="server address for openai-compatible, e.g. "
                   "http://127.0.0.1:8000/v1")
    g.add_argument("--timeout", type=float, dest="timeout_s", help="seconds per LLM call")


def _llm_options(p: argparse.ArgumentParser, default_goal: str | None = None) -> None:
    _provider_options(p)
    g = p.add_argument_group("Writing")
    g.add_argument("--no-llm", action="store_true",
                   help="numbers only: no names, narratives or strategy (same as --provider none)")
    g.add_argument("--goal", default=default_goal,
                   help="the product goal; with it, a strategy is drafted (fit, opportunity, plans)"
                   + (f" (default: {default_goal!r})" if default_goal else ""))
    g.add_argument("--initiatives", metavar="FILE",
                   help="roadmap initiatives, one per line (default: a list for the goal)")


def _llm_flags(args: argparse.Namespace) -> dict:
    provider = "none" if getattr(args, "no_llm", False) else args.provider
    return {"provider": provider, "model": args.model, "base_url": args.base_url,
            "timeout_s": args.timeout_s}


def _read_initiatives(path: str | None) -> tuple[str, ...] | None:
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"Cannot read the initiatives file {path} ({err.__class__.__name__}); "
                         "give a UTF-8 text file with one initiative per line.") from err
    items = tuple(line.strip(" -*\t") for line in text.splitlines() if line.strip(" -*\t"))
    if not items:
        raise InputError(f"The initiatives file {path} is empty; write one initiative per line.")
    if len(items) > 12:
        raise InputError(f"The initiatives file {path} lists {len(items)} initiatives; keep it to "
                         "12 or fewer so each can be rated for every segment.")
    return items


class _StderrProgress:
    """Progress on stderr: one updating line on a terminal, a line per stage otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_stage = None
        self.start = time.perf_counter()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        text = f"[{fraction:4.0%}] {message} ({elapsed:.1f}s)"
        if self.tty:
            sys.stderr.write("\r" + text[:100].ljust(100))
            if stage == "done":
                sys.stderr.write("\n")
        elif stage != self.last_stage:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self.last_stage = stage


def _settings(args: argparse.Namespace):
    from copilot.segmentation import SegmentSettings

    if args.anchor_mode == "within" and args.command != "segment":
        raise InputError(f"--anchor-mode within works with the segment command only, not "
                         f"{args.command}; drop it, or run segment-copilot segment DATA "
                         "--anchor COL --anchor-mode within.")
    # None lets the engine choose (suggested anchors, detected text); () turns it off.
    return SegmentSettings(
        id_column=args.id_column,
        outcomes=tuple(args.outcomes) if args.outcomes else None,
        exclude=tuple(args.exclude),
        keep=tuple(dict.fromkeys(args.keep)),
        k=args.k,
        k_range=args.k_range,
        algorithm=args.algorithm,
        seed=args.seed,
        min_share=args.min_share,
        anchors=() if args.no_anchors else
        tuple(dict.fromkeys(args.anchors)) if args.anchors else None,
        text_columns=() if args.no_text else
        tuple(dict.fromkeys(args.text_columns)) if args.text_columns else None,
    )


def _run_and_report(df, settings, source: dict, args: argparse.Namespace, *,
                    memo: bool = False, spark: bool = False) -> int:
    from copilot.llm import resolve_settings
    from copilot.report import render_summary, render_writing
    from copilot.segmentation import check_out_dir, produced_input, staged_folder
    from copilot.workflow import AnalysisFolder, segment_table, write_strategy_memo

    llm_settings = resolve_settings(_llm_flags(args))  # bad settings fail before the long work
    initiatives = _read_initiatives(args.initiatives)
    out = Path(args.out_dir).expanduser()
    check_out_dir(out)
    replaced = (produced_input(out, source["path"])
                if source.get("path") and source.get("format") not in ("postgresql", "duckdb")
                else None)
    if replaced is not None:
        raise InputError(f"The input {replaced} is one of the files a run into {out} replaces; "
                         "copy it elsewhere or choose another --out-dir.")
    # Every file goes into a hidden sibling first; the folder is swapped in whole at the end,
    # so a kill or a failure leaves the previous run's folder as it was.
    with staged_folder(out) as stage:
        # The same steps as the chat's segment and write: the run with its saved model (which
        # assigns new customers to these segments), then the names, which the model takes.
        folder = AnalysisFolder(stage)
        if spark:  # the table stays in Spark; the sample's model scores every row there
            from copilot.workflow import segment_with_spark

            result = segment_with_spark(args.data, settings, folder, master=args.master,
                                        progress=_StderrProgress())
            analysis, files = result.analysis, {"assignments": result.files["assignments"],
                                                "analysis": folder.analysis_file}
            src = analysis.source
            if src.get("from_sample"):
                sys.stderr.write(f"note: the model was chosen on a sample of "
                                 f"{src['sample_rows']:,} of {src['rows']:,} rows; sizes and "
                                 "outcome tests are over every row, the profiles' statistics "
                                 "and rules over the sample.\n")
        else:
            run = segment_table(df, settings, folder, source=source, progress=_StderrProgress())
            analysis = run.analysis
            files = {"assignments": folder.assignments, "analysis": folder.analysis_file}
        writing = None
        if llm_settings.provider != "none":
            writing = _write(analysis, llm_settings, args.goal, initiatives)
            files = {**files, "writing": folder.write_writing(writing)}
            folder.rename_model({n.segment: n.name for n in writing.narratives})
        files = {**files, "model": folder.model}
        if memo:
            memo_files = write_strategy_memo(analysis, writing, stage / "memo.md",
                                             goal=args.goal)
            files = {**files, "memo": memo_files.memo}
    files = {key: out / path.relative_to(stage) for key, path in files.items()}
    if args.json:
        sys.stdout.write(analysis.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_summary(analysis, files))
        if writing is not None:
            sys.stdout.write(render_writing(writing, analysis))
    if memo:
        sys.stderr.write(f"The strategy memo is in {files['memo']} (charts beside it).\n")
    return 0


def _write(analysis, llm_settings, goal, initiatives):
    from copilot.llm import open_client, stderr_progress
    from copilot.workflow import write_segments

    def event(message: str) -> None:
        sys.stderr.write(f"  llm: {message}\n")
        sys.stderr.flush()

    sys.stderr.write(f"Writing names{' and strategy' if goal else ''} with the "
                     f"{llm_settings.provider} provider...\n")
    client = open_client(llm_settings, on_event=event,
                         progress=stderr_progress("Preparing the embedded model (first run only)"))
    writing = write_segments(analysis, client, goal=goal, initiatives=initiatives)
    for notice in writing.notices:
        sys.stderr.write(f"notice: {notice}\n")
    return writing


def cmd_segment(args: argparse.Namespace) -> int:
    from copilot.segmentation import load_table

    settings = _settings(args)
    within = args.anchor_mode == "within"
    if within and len(settings.anchors or ()) > 1:
        raise InputError(f"--anchor-mode within segments inside the levels of one anchor, but "
                         f"{len(settings.anchors)} were given ({', '.join(settings.anchors)}); "
                         "give a single --anchor COL.")
    if args.engine == "spark":
        if within:
            raise InputError("--anchor-mode within works with the local engine only; drop "
                             "--engine spark, or report the anchor across the segments.")
        if args.query or args.table:
            raise InputError("--engine spark reads DATA itself (a Parquet folder, a CSV or a "
                             "table of Spark's catalog); drop --query and --table.")
        return _run_and_report(None, settings, {"path": str(args.data)}, args, spark=True)
    table = load_table(args.data, sheet=args.sheet, query=args.query, table=args.table)
    for note in table.notes:
        sys.stderr.write(f"note: {note}\n")
    source = source_of(table)
    if not within:
        return _run_and_report(table.frame, settings, source, args)

    from copilot.commands import segment_within
    from copilot.llm import resolve_settings

    return segment_within(table.frame, settings, source, args,
                          llm_wanted=resolve_settings(_llm_flags(args)).provider != "none",
                          progress=_StderrProgress())


def source_of(table) -> dict:
    """What analysis.json and the memo record of the table read (a URL without password)."""
    source = {"path": table.source, "format": table.format, "rows": len(table.frame),
              "columns": len(table.frame.columns)}
    if table.from_database:
        given = {"table": table.table, "query": table.query}
        source = {**source, **{k: v for k, v in given.items() if v}}
    return source


def demo_data_path() -> Path:
    return Path(__file__).parent / "data" / "demo_customers.csv"


def cmd_demo(args: argparse.Namespace) -> int:
    from copilot.segmentation import SegmentSettings, load_table

    path = demo_data_path()
    sys.stderr.write(f"Demo data: {path.name}, a synthetic SaaS customer table bundled with "
                     "the package (no real customers).\n")
    table = load_table(path)
    source = {"path": path.name, "format": table.format, "rows": len(table.frame),
              "columns": len(table.frame.columns)}
    code = _run_and_report(table.frame, SegmentSettings(seed=args.seed), source, args, memo=True)
    if code or args.json:  # --json: stdout carries the analysis alone
        return code
    # The last step of the path: a CRM import file with holdout flags and the glossary, made
    # by the export command itself from what the demo just wrote.
    from copilot.commands import ExportRequest, export_segments

    out = Path(args.out_dir)
    return export_segments(ExportRequest(source=out, out=out / "crm.csv",
                                         glossary=out / "glossary"))


def _refuse_busy_folder(session_dir: Path) -> None:
    """A new session writes memo.md, assignments.csv, model/ ...: never into a folder that
    holds other files, which it would overwrite."""
    if session_dir.is_file():
        raise InputError(f"--session-dir {session_dir} is a file; give a folder for the session.")
    if session_dir.is_dir() and any(session_dir.iterdir()):
        first = sorted(p.name for p in session_dir.iterdir())[0]
        raise InputError(f"{session_dir} already holds files (such as {first}); choose a new or "
                         "empty folder for --session-dir.")


def new_session_dir(kind: str) -> Path:
    """A fresh folder per session, so a new session never overwrites a saved one."""
    root = Path("segment-copilot-sessions")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{kind}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{kind}-{stamp}-{n}"
    return path


class _StderrEvents:
    """Session events on stderr: steps as lines, progress as one updating line. Errors are left
    to ``main``, which prints the one that ended the command exactly once."""

    def __init__(self) -> None:
        self.progress = _StderrProgress()

    def __call__(self, event) -> None:
        if event.kind == "progress":
            fraction = event.data.get("fraction")
            if fraction is not None:
                self.progress(str(event.data.get("stage")), float(fraction), event.text)
            else:
                sys.stderr.write(f"  {event.text}\n")
        elif event.kind == "tool_call":
            sys.stderr.write(f"> {event.text}\n")
        sys.stderr.flush()


def cmd_ask(args: argparse.Namespace) -> int:
    import json

    from copilot.agent import Agent, Session
    from copilot.llm import resolve_settings

    llm = resolve_settings(_llm_flags(args))  # bad settings fail before the long work
    session_dir = Path(args.session_dir) if args.session_dir else new_session_dir("ask")
    if (session_dir / "session.json").exists():
        raise InputError(f"{session_dir} already holds a saved session; choose another "
                         "--session-dir or open it with 'segment-copilot chat --resume'.")
    _refuse_busy_folder(session_dir)
    session = Session(session_dir, settings=_settings(args), llm=llm)
    session.subscribe(_StderrEvents())
    sys.stderr.write(f"Session folder: {session_dir}\n")
    if args.goal:
        session.set_goal(args.goal)
    if session.load(args.data, query=args.query, table=args.table) is None:
        raise InputError(session.last_error or f"Cannot load {args.data}.")
    if args.out:  # refused now, not after minutes of work: the table, the model, the session
        session.output_path(args.out, session.session_dir / "memo.md")
    if args.scope and session.set_scope(args.scope) is False:
        raise InputError(session.last_error or f"Cannot scope to {args.scope}.")
    agent = Agent(session)
    result = agent.ask(args.prompt, memo_path=args.out,
                       initiatives=_read_initiatives(args.initiatives))
    if not result.ok:
        raise InputError(result.answer)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(session), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.answer.rstrip() + "\n")
    return 0


def cmd_memo(args: argparse.Namespace) -> int:
    from copilot.agent import Session
    from copilot.llm import LLMSettings

    session = Session.resume(args.session, llm=LLMSettings(provider="none"))
    for notice in session.notices:
        sys.stderr.write(f"notice: {notice}\n")
    if session.analysis is None:
        raise InputError(f"The session in {args.session} has no segments yet, so there is no "
                         "memo to write; run the analysis in it first.")
    files = session.export_memo(args.out)
    if files is None:
        raise InputError(session.last_error or "The memo could not be written.")
    sys.stdout.write(f"{files.memo}\n")
    sys.stderr.write(f"Wrote the memo with {len(files.charts)} chart(s) beside it.\n")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from copilot.llm import resolve_settings
    from copilot.tui import run_chat

    llm = resolve_settings(_llm_flags(args))
    if args.resume:
        if args.data:
            raise InputError("Give either a table or --resume SESSION, not both; a resumed "
                             "session reloads its own table.")
        return run_chat(None, session_dir=Path(args.resume), resume=True, llm=llm)
    from_db = bool(args.query or args.table or (args.data and "://" in args.data))
    if args.data and not from_db and not Path(args.data).expanduser().exists():
        raise InputError(f"The file {args.data} does not exist; check the path.")
    session_dir = Path(args.session_dir) if args.session_dir else new_session_dir("chat")
    if (session_dir / "session.json").exists():
        raise InputError(f"{session_dir} already holds a saved session; open it with "
                         f"--resume {session_dir} or choose another --session-dir.")
    _refuse_busy_folder(session_dir)
    return run_chat(args.data, session_dir=session_dir, resume=False, llm=llm,
                    query=args.query, table=args.table)


def cmd_assign(args: argparse.Namespace) -> int:
    from copilot.core import refuse_overwrite
    from copilot.segmentation import load_bundle, model_folder
    from copilot.workflow import assign_to_file, assign_to_table

    target = _out_table_target(args)
    model = load_bundle(args.model)  # a wrong model is named before anything else
    if args.engine == "spark":
        if target is not None:
            raise InputError("--engine spark writes a Parquet folder with --out; --out-table "
                             "works with the local engine.")
        refuse_overwrite(args.out, *_file_inputs(args.data), model_folder(args.model))
        return _assign_with_spark(model, args)
    source = {"query": args.query, "table": args.table, "id_column": args.id_column,
              "holdout_share": args.holdout_share, "salt": args.salt}
    if target is None:
        refuse_overwrite(args.out, *_file_inputs(args.data), model_folder(args.model))
        result = assign_to_file(model, args.data, args.out, **source)
        where = args.out
    else:
        result = assign_to_table(model, args.data, *target, **source)
        where = result.table.describe()
    for note in result.notes:
        sys.stderr.write(f"note: {note}\n")
    counts = result.counts()
    sys.stdout.write(f"Assigned {len(result.frame):,} customers with model "
                     f"{model.info.bundle_id} to {where}:\n")
    for name, n in counts.items():
        sys.stdout.write(f"  {name}: {n:,}\n")
    return 0


def _assign_with_spark(model, args: argparse.Namespace) -> int:
    from copilot.workflow import assign_to_parquet

    if str(args.out).lower().endswith((".csv", ".tsv", ".txt")):
        raise InputError(f"--engine spark writes a Parquet folder, not {args.out}; give --out a "
                         "path such as assigned.parquet.")
    result = assign_to_parquet(model, args.data, args.out, master=args.master,
                               holdout_share=args.holdout_share, salt=args.salt,
                               id_column=args.id_column)
    for note in result.notes:
        sys.stderr.write(f"note: {note}\n")
    sys.stdout.write(f"Assigned {result.n_rows:,} customers with model "
                     f"{model.info.bundle_id} to {args.out}:\n")
    for name, n in result.counts.items():
        sys.stdout.write(f"  {name}: {n:,}\n")
    return 0


def _file_inputs(data: str) -> tuple[str, ...]:
    """The input as a file an output must not overwrite (a database URL is no file)."""
    from copilot.segmentation import is_database_url

    return () if is_database_url(data) else (data,)


def _out_table_target(args: argparse.Namespace) -> tuple[str, str] | None:
    """(database URL, table) for --out-table, checked before any work; None for --out FILE.
    Without --out-db the table goes to the database the customers came from."""
    from copilot.segmentation import check_out_table, is_database_url

    if args.out and (args.out_table or args.out_db):
        raise InputError("Give either --out FILE or --out-table NAME, not both; each writes "
                         "the whole result.")
    if not args.out and not args.out_table and not args.out_db:
        raise InputError(f"{args.command} needs somewhere to write: add --out FILE.csv or "
                         "--out-table NAME.")
    if args.out:
        return None
    from_db = is_database_url(args.data or "")
    return check_out_table(args.out_db, args.out_table,
                           input_url=args.data if from_db else None,
                           input_table=args.table if from_db else None)


def cmd_doctor(args: argparse.Namespace) -> int:
    from copilot.llm import run_doctor

    report = run_doctor(_llm_flags(args))
    sys.stdout.write(report.text + "\n")
    return 0 if report.ok else 1


COMMANDS = {"segment": cmd_segment, "demo": cmd_demo, "doctor": cmd_doctor, "ask": cmd_ask,
            "memo": cmd_memo, "chat": cmd_chat, "assign": cmd_assign}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    debug = os.environ.get("SEGMENT_COPILOT_DEBUG") == "1"
    try:
        handler = COMMANDS.get(args.command) or {
            m.NAME: m.run for m in _operational_commands()}[args.command]
        return handler(args)
    except CopilotError as err:
        if debug:
            raise
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # the reader (head, less) left early: nothing more to say
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the exit flush stays quiet
        except OSError:
            pass
        return 0
    except MemoryError:
        sys.stderr.write("error: the table does not fit in memory; use a smaller file or a "
                         "sample of it.\n")
        return 1
    except Exception as err:  # a bug: still one sentence, with a way to get details
        if debug:
            raise
        sys.stderr.write(f"internal error: {type(err).__name__}: {err}. Set "
                         "SEGMENT_COPILOT_DEBUG=1 for the traceback and report it.\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

