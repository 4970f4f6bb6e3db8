"""The Spark backend of the engine (``--engine spark``): the top floor, over the outputs.

Spark reads, profiles and samples the table; the local engine chooses the model on the
sample; Spark scores every row with that saved model (``mapInPandas`` over the local
``assign_table``) and computes the sizes and outcome tests from full-table aggregates (the
profiles' feature statistics come from the sample, and analysis.json says so).
pyspark is an optional extra (``pip install ".[spark]"``) imported only inside functions.
"""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
    from copilot.segmentation.spark.assign import SparkAssigned, assign_spark
    from copilot.segmentation.spark.features import SparkQueries, spark_features
    from copilot.segmentation.spark.parquet import check_parquet_out, write_parquet
    from copilot.segmentation.spark.read import read_spark_table, with_row_numbers
    from copilot.segmentation.spark.sample import SAMPLE_ROWS, Sample, draw_sample
    from copilot.segmentation.spark.segment import (
        ASSIGNMENTS_PARQUET,
        SparkSegmentation,
        segment_spark,
    )
    from copilot.segmentation.spark.session import (
        INSTALL_HINT,
        require_pyspark,
        resolve_master,
        spark_missing_sentence,
        spark_session,
    )

__getattr__, __dir__, __all__ = lazy_face(__name__)
