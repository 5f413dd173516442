"""One annotator's answer on one image: its confounded and valid concepts (AACA b1, b2).

Example
-------
>>> a = ConceptAnswer("w1", "val/3.png", "0-4", confounded=["Brick  wall"], valid=["digit"])
>>> a.confounded
['brick wall']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slicelens.errors import DataError


def clean_concept(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation."""
    return " ".join(str(text).lower().replace("_", " ").split()).strip(" .,;:!?\"'")


def split_concepts(text: str) -> list[str]:
    """``"brick; wall | sky"`` -> ``["brick", "wall", "sky"]`` (``;`` or ``|`` separate)."""
    parts = str(text).replace("|", ";").split(";")
    return [c for c in (clean_concept(p) for p in parts) if c]


@dataclass
class ConceptAnswer:
    """What one annotator said about one image.

    Attributes
    ----------
    worker : str
    image_id : str
    label : str
        The image's class name (answers are pooled per class).
    confounded, valid : list of str
        Concepts, cleaned by :func:`clean_concept`; at least one of the two is non-empty.
    seconds : float, optional
        Time the annotator took.
    """

    worker: str
    image_id: str
    label: str
    confounded: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    seconds: float | None = None

    def __post_init__(self):
        self.confounded = [c for c in (clean_concept(x) for x in self.confounded) if c]
        self.valid = [c for c in (clean_concept(x) for x in self.valid) if c]
        if not str(self.worker).strip():
            raise DataError("an answer needs a worker", field="worker")
        if not str(self.image_id).strip():
            raise DataError("an answer needs an image id", field="image_id")
        if not self.confounded and not self.valid:
            raise DataError(f"answer of {self.worker!r} on {self.image_id!r} names no concept",
                            field="confounded")
        if self.seconds is not None and self.seconds < 0:
            raise DataError("time must be >= 0 seconds", field="time")

    def to_json(self) -> dict:
        return {"worker": self.worker, "image_id": self.image_id, "label": self.label,
                "confounded": self.confounded, "valid": self.valid, "seconds": self.seconds}
