"""Event-log benchmark: ``build_features`` on the full Online Retail log (541,909 lines).

Reference: a plain pandas RFM measured in the same process (``read_csv`` of the gzipped file,
drop rows without a customer, amount = Quantity * UnitPrice, then a groupby for recency,
frequency and monetary value: 3 features where the engine builds 41). Prints wall time and
resident-memory peak of each, and the ratio engine / pandas. Target: under 60 s per run.

    python benchmarks/features.py [--data PATH] [--as-of 2011-09-01] [--scale 10]

``--scale N`` also times the engine on N stacked copies of the log (customer IDs shifted per
copy), written once as Parquet, to show how the out-of-core path grows with the log.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale import Phase
from copilot.segmentation.data.event_columns import EventSpec
from copilot.segmentation.data.events import build_features

DEFAULT_DATA = (Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail"
                / "online_retail.csv.gz")
SPEC = EventSpec(id="CustomerID", time="InvoiceDate", amount="Quantity*UnitPrice",
                 order="InvoiceNo", product="StockCode")


def pandas_rfm(path: Path) -> pd.DataFrame:
    """The usual notebook RFM: load everything, then one groupby."""
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str},
                     parse_dates=["InvoiceDate"])
    df = df.dropna(subset=["CustomerID"])
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    ref = df["InvoiceDate"].max()
    out = df.groupby("CustomerID").agg(last=("InvoiceDate", "max"),
                                       frequency=("InvoiceNo", "nunique"),
                                       monetary=("amount", "sum"))
    out["recency_days"] = (ref - out.pop("last")).dt.total_seconds() / 86400
    return out


def stacked_copies(path: Path, copies: int, folder: Path) -> Path:
    """N copies of the log as one Parquet file, customer IDs shifted so copies do not merge."""
    import duckdb

    out = folder / f"online_retail_x{copies}.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT r.* REPLACE (CAST(r.CustomerID AS DOUBLE) + 100000 * c.i AS CustomerID,"
        " r.InvoiceNo || '-' || c.i AS InvoiceNo) "
        "FROM read_csv($path, all_varchar = true) r, range($n) c(i)) TO $out (FORMAT parquet)",
        {"path": str(path), "n": copies, "out": str(out)},
    )
    con.close()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--as-of", default="2011-09-01")
    p.add_argument("--scale", type=int, default=0, help="also run on N stacked copies")
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}; pass --data PATH to online_retail.csv.gz")
        return 2

    with Phase() as base:
        rfm = pandas_rfm(args.data)
    print(f"pandas read_csv + groupby RFM (3 features):  {base.seconds:6.1f} s, "
          f"peak +{base.peak / 1e6:5.0f} MB, {len(rfm):,} customers")
    runs = [("engine, whole log", None), (f"engine, --as-of {args.as_of}", args.as_of)]
    for label, as_of in runs:
        with Phase() as phase:
            result = build_features(args.data, SPEC, as_of=as_of)
        s = result.summary
        print(f"{label:<44} {phase.seconds:6.1f} s, peak +{phase.peak / 1e6:5.0f} MB, "
              f"{s.n_customers:,} customers x {len(s.features)} features "
              f"(+{len(s.outcomes)} outcomes); ratio to pandas {phase.seconds / base.seconds:.2f}"
              f"; target < 60 s: {'met' if phase.seconds < 60 else 'MISSED'}")
    if args.scale > 1:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            big = stacked_copies(args.data, args.scale, Path(folder))
            print(f"wrote {args.scale} stacked copies as Parquet in "
                  f"{time.perf_counter() - started:.1f} s")
            with Phase() as phase:
                result = build_features(big, SPEC, as_of=args.as_of)
            print(f"engine, {args.scale}x log ({result.summary.rows_read:,} rows)"
                  f"{'':<10} {phase.seconds:6.1f} s, peak +{phase.peak / 1e6:5.0f} MB, "
                  f"{result.summary.n_customers:,} customers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
