"""The operational commands (features, compare, export): one module each, wired into ``copilot.cli``.

Each module has ``add_parser(sub)``, which registers its sub-command on the CLI's sub-parsers,
and ``run(args) -> int``. They sit beside ``copilot.cli`` as front ends: thin wrappers over the
engine that read files, print a summary and write outputs atomically.
"""
