"""The ``compare`` command: drift and migration between snapshots, and the re-cluster verdict.

    segment-copilot compare OLD NEW --model MODEL   two snapshots of the same customers
    segment-copilot compare NEW --model MODEL       one snapshot against the model's training data
    segment-copilot compare OLD NEW                 no saved model: one is trained on OLD

The verdict (stable, watch, re-cluster) is the answer, not an error: the exit code is 0 whatever
it says. Bad input (a missing file, no shared ID column, no customer in both snapshots,
columns the model needs, an --out that would overwrite an input or the model) is one sentence
on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from copilot.core import InputError

NAME = "compare"

USAGE = ("segment-copilot compare OLD NEW [--model MODEL] [--id COL] [--out REPORT.md] [--json]\n"
         "       segment-copilot compare NEW --model MODEL [--out REPORT.md] [--json]")


def add_parser(sub) -> None:
    """Register ``compare`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        NAME, usage=USAGE,
        help="drift and migration between two snapshots: stable, watch or re-cluster",
        description="Compare two snapshots of the same customers: who moved between segments "
        "(the migration matrix), how segment shares changed, PSI per feature and for the "
        "segment shares, and how far each segment's centre moved; then a verdict (stable, "
        "watch or re-cluster) with the reasons. With one snapshot and --model, the same "
        "distribution checks against the model's training data.")
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT",
                   help="OLD NEW (the same customers at two times), or NEW alone with --model; "
                   "each a file or a database URL")
    g = p.add_argument_group("Snapshots in a database (SNAPSHOT a postgresql:// or duckdb:/// "
                             "URL): one of these per URL, in the order of the URLs")
    g.add_argument("--query", action="append", default=[], metavar="SQL",
                   help="the SQL whose rows are that snapshot's customers")
    g.add_argument("--table", action="append", default=[], metavar="NAME",
                   help="the table of that snapshot's customers")
    p.add_argument("--model", help="a saved model folder (the model/ folder segment --out-dir "
                   "wrote); without it, a model is trained on OLD with the engine defaults")
    p.add_argument("--id", dest="id_column", metavar="COL",
                   help="the customer ID column both snapshots share (default: the model's)")
    p.add_argument("--out", metavar="REPORT.md",
                   help="also write the report to this file (JSON if it ends in .json)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed when a model is trained on OLD (default 0)")


def run(args: argparse.Namespace) -> int:
    if len(args.snapshots) > 2:
        raise InputError(f"compare takes one or two snapshots, not {len(args.snapshots)}; give "
                         "OLD NEW, or NEW alone with --model.")
    if len(args.snapshots) == 1 and not args.model:
        raise InputError("One snapshot alone needs a saved model to compare against; pass "
                         "--model MODEL (the model/ folder segment --out-dir wrote), or give "
                         "OLD and NEW snapshots.")
    from copilot.core import refuse_overwrite, same_file
    from copilot.segmentation import is_database_url, model_folder, redact

    sources = _database_sources(args, is_database_url)
    files = [p for p in args.snapshots if not is_database_url(p)]
    if args.out:  # before any reading: a refusal costs nothing, writes nothing
        refuse_overwrite(args.out, *files,
                         *([model_folder(args.model)] if args.model else []))

    from copilot.segmentation import (
        load_bundle,
        load_table,
        render_markdown,
        train_reference_model,
    )
    from copilot.workflow import drift_report, write_drift_report

    model = load_bundle(args.model) if args.model else None  # a bad model fails before reading
    names = [_label(p, sources.get(i)) for i, p in enumerate(args.snapshots)]
    one_file = (len(args.snapshots) == 2 and len(files) == 2
                and same_file(*map(Path, args.snapshots)))
    tables = [_load(load_table, path, **sources.get(i, {}))
              for i, path in enumerate(args.snapshots[:2 - one_file])]
    if one_file:
        tables.append(tables[0])
    if model is not None:
        note = f"loaded from {args.model}"
    else:
        sys.stderr.write(f"No --model given: training one on {names[0]} with the engine "
                         "defaults...\n")
        model = train_reference_model(tables[0], id_column=args.id_column, seed=args.seed)
        note = (f"trained here on {names[0]} with the engine defaults ({model.info.algorithm}, "
                f"k={model.info.k}) because no --model was given; to reuse one, save it with "
                f"'segment-copilot segment {_as_typed(args.snapshots[0], sources.get(0), redact)}"
                " --out-dir DIR'")
    sys.stderr.write("Assigning the snapshots and comparing...\n")
    if len(tables) == 2:
        report = drift_report(tables[1], model, old=tables[0], id_column=args.id_column,
                              old_label=f"OLD ({names[0]})", new_label=f"NEW ({names[1]})",
                              model_note=note)
    else:
        report = drift_report(tables[0], model, new_label=f"NEW ({names[0]})", model_note=note)
    if one_file:
        same = (f"The two snapshots are the same file ({args.snapshots[0]}), so no customer can "
                "have moved; give the earlier and the later snapshot to see drift.")
        sys.stderr.write(f"note: {same}\n")
        report = report.model_copy(update={"notes": (same, *report.notes)})
    markdown = render_markdown(report)
    as_json = report.model_dump_json(indent=2) + "\n"
    if args.out:
        write_drift_report(report, args.out)
        sys.stderr.write(f"Wrote the report to {args.out}.\n")
    sys.stdout.write(as_json if args.json else markdown)
    sys.stderr.write(f"verdict: {report.verdict.level}\n")
    return 0


def _load(load_table, path: str, **source):
    table = load_table(path, **source)
    for note in table.notes:
        sys.stderr.write(f"note: {table.source}: {note}\n")
    return table.frame


def _database_sources(args: argparse.Namespace, is_database_url) -> dict[int, dict]:
    """Each database snapshot's --query or --table, matched to the URLs in order."""
    urls = [i for i, p in enumerate(args.snapshots) if is_database_url(p)]
    if args.query and args.table:
        raise InputError("compare takes --query or --table for its database snapshots, not "
                         "both kinds; give one --table (or one --query) per URL.")
    given, flag = (args.query, "query") if args.query else (args.table, "table")
    if len(given) != len(urls):
        raise InputError(f"compare has {len(urls)} database snapshot(s) and {len(given)} "
                         f"--{flag}; give one --query or --table per URL, in the same order.")
    return {i: {flag: value} for i, value in zip(urls, given, strict=True)}


def _as_typed(path: str, source: dict | None, redact) -> str:
    """A snapshot as command-line arguments (a URL without its password, with its flag)."""
    import shlex

    if source is None:
        return path
    flag, value = next(iter(source.items()))
    return f"{redact(path)} --{flag} {shlex.quote(value)}"


def _label(path: str, source: dict | None) -> str:
    if source is None:
        return Path(path).name
    return f"table {source['table']}" if "table" in source else "a query"

