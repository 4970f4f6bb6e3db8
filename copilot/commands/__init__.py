"""The operational commands (features, compare, export): one module each, wired into ``copilot.cli``.

Each module has ``add_parser(sub)``, which registers its sub-command on the CLI's sub-parsers,
and ``run(args) -> int``. They sit beside ``copilot.cli`` as front ends: thin wrappers over the
engine that read files, print a summary and write outputs atomically.
"""


def operational_commands() -> tuple:
    """The command modules, each with ``NAME``, ``add_parser(sub)`` and ``run(args)``.

    Imported when asked for, not with the package: each module keeps its heavy imports
    (duckdb, the engine) inside its ``run``, and the parser must build without them.
    """
    from copilot.commands import compare, export, features

    return (features, compare, export)


from copilot.commands.export import ExportRequest, export_segments
from copilot.commands.options import out_table_options, source_options
from copilot.commands.within import segment_within

__all__ = [
    "ExportRequest",
    "export_segments",
    "operational_commands",
    "out_table_options",
    "segment_within",
    "source_options",
]
