"""Check that every number in a strategy memo comes from the analysis it was written from.

    python scripts/check_memo_numbers.py memo.md out/analysis.json [out/writing.json]

Prints each number the JSON files do not produce and exits 1 if there is any, 0 when every
figure traces back (see ``copilot/report/trace.py`` for what "traces" means). A thin wrapper:
the logic lives in the library so tests and the app use the same check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from copilot.report.trace import memo_numbers, untraceable_numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("memo", type=Path, help="the Markdown memo")
    parser.add_argument("sources", type=Path, nargs="+",
                        help="analysis.json, and writing.json when the memo used one")
    args = parser.parse_args(argv)
    try:
        text = args.memo.read_text(encoding="utf-8")
        sources = [json.loads(p.read_text(encoding="utf-8")) for p in args.sources]
    except (OSError, ValueError) as err:
        print(f"error: cannot read the inputs ({err}).", file=sys.stderr)
        return 2
    missing = untraceable_numbers(text, *sources)
    total = len(memo_numbers(text))
    if missing:
        print(f"{len(missing)} number(s) in {args.memo} do not come from the analysis:")
        for token in missing:
            print(f"  {token}")
        return 1
    print(f"All {total} numbers in {args.memo} trace back to {', '.join(map(str, args.sources))}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
