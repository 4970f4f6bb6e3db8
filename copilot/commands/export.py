"""The ``export`` command (placeholder until it is built: it is not registered yet)."""

from __future__ import annotations

import argparse

NAME = "export"


def add_parser(sub) -> None:
    """Register the sub-command on the CLI's sub-parsers (not yet)."""


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
