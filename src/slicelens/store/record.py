"""The run record (``<run>/record.json``) as a typed, validated contract.

``Run.record`` parses the file into a :class:`RunRecord`: the fields every part reads are
typed attributes (``run.record.model.input_size``, ``run.record.control_run``), a file
whose fields have the wrong type is a :class:`~slicelens.errors.DataError` naming the file
and the field, and fields this version does not know are kept (``extra="allow"``), so
the JSON on disk is unchanged by reading and writing it back (:meth:`RunRecord.to_json`).

Only the fields code reads are typed (the rest of the schema is in ``docs/workspace.md``
and is kept as it is); sections written by other parts (``extract``, ``train``, ``plan``)
stay plain dicts: the store sits below the parts and does not know their models.

Example
-------
>>> rec = RunRecord.model_validate({"status": "complete", "classes": ["cat", "dog"],
...     "model": {"spec": "small-cnn", "input_size": 32}, "control_run": "run-0003-control"})
>>> rec.model.input_size, rec.control_run, rec.is_derived
(32, 'run-0003-control', False)
>>> rec["model"]["spec"]        # the JSON value, as the dict record gave it
'small-cnn'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slicelens.errors import DataError, WorkspaceError


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_json().get(key, default)

    def to_json(self) -> dict[str, Any]:
        """The section as it is stored (fields never set are left out)."""
        return self.model_dump(mode="json", exclude_unset=True)


class DataRecord(_Section):
    """``record["data"]``: the dataset the run was extracted from."""

    source: str = Field("", description="manifest, image folder, or <arrays>")
    skip_bad: bool = False
    root: str | None = Field(None, description="the data's root folder (manifest's folder)")
    notes: list[str] = Field(default_factory=list)


class ModelRecord(_Section):
    """``record["model"]``: the arguments of :func:`slicelens.models.load_model`."""

    spec: str = ""
    weights: str | None = None
    input_size: int | None = None


class RunRecord(_Section):
    """``record.json``: status, what the run was made from, and how to replay it."""

    format: int = 1
    run_id: str | None = None
    status: str | None = Field(None, description='"running" or "complete"')
    created_at: str | None = None
    finished_at: str | None = None
    classes: list[str] = Field(default_factory=list)
    data: DataRecord = Field(default_factory=DataRecord)
    model: ModelRecord = Field(default_factory=ModelRecord)
    extract: dict[str, Any] = Field(default_factory=dict)
    method: str | None = None
    model_free: bool = False
    weights_sha256: str | None = None
    # set on runs made from another one (repair, retraining, matched control)
    base_run: str | None = None
    control_run: str | None = None
    control_key: str | None = None
    plan: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    init: str | None = None

    @property
    def input_size(self) -> int:
        """The model's input size (pixels), which every step that loads images needs."""
        if not self.model.input_size:
            raise WorkspaceError(f"run {self.run_id or '?'}: its record names no model "
                                 "input_size; extract the run again")
        return int(self.model.input_size)

    @property
    def is_derived(self) -> bool:
        """True for a repair, retraining or matched-control run."""
        return bool(self.base_run or self.control_key)

    def updated(self, **fields: Any) -> RunRecord:
        """A copy with ``fields`` set (validated like the file)."""
        return RunRecord.model_validate({**self.to_json(), **fields})


def parse_record(raw: dict[str, Any], path: str | os.PathLike) -> RunRecord:
    """Validate a record read from ``path``; a wrong field is a DataError naming both."""
    try:
        return RunRecord.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise DataError(f"invalid run record: {err['msg']}", file=str(path), field=field) from None


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """The raw JSON of a record file (WorkspaceError when missing, DataError when not JSON)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkspaceError(f"{path.parent} is not a run (no record.json)") from None
    except ValueError as e:
        raise DataError(f"run record is not JSON: {e}", file=str(path)) from None
    if not isinstance(raw, dict):
        raise DataError("run record is not a JSON object", file=str(path))
    return raw
