"""Orchestration: the library functions that the CLI, the HTTP API and notebooks call.

They only sequence, cache and persist; every computation lives in its stage's package.
"""

from slicelens.pipeline.extract import extract_run
from slicelens.pipeline.train import TrainJob, train_model

__all__ = ["extract_run", "train_model", "TrainJob"]
