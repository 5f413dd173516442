"""Attribute name proposal (HiBug Sec. 3.1, "Attribute name proposal").

HiBug asks ChatGPT "Can you list some attributes to describe <task element>?" and lets
the user edit the answer. slicelens keeps that as the ``llm`` backend
(:mod:`slicelens.attributes.llm`) and adds two offline backends:

- ``builtin``: task-independent visual attributes that any image classifier can fail
  on (background, lighting, colours, object size and position, texture, blur, clutter),
  each bound to the backend that can assign it offline. This departs from the paper,
  whose attributes are task-specific: it is the default because it needs no network.
- ``user``: a YAML / JSON file written by the user (names, optional values).

Example
-------
>>> spec = get_backend(PROPOSERS, "builtin").propose("digits")
>>> "object size" in spec.names
True
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from slicelens.attributes.base import (
    PROPOSERS,
    Attribute,
    AttributeSpec,
    Backend,
    get_backend,
    register_proposer,
)


def builtin_attributes(semantic: bool = True, regions: bool = False,
                       clusters: bool = False) -> list[Attribute]:
    """The task-independent visual attributes of the offline default.

    ``semantic`` adds "background" (ImageNet zero-shot on the background region, values
    proposed from representative images); it costs one EfficientNet-Lite0 pass per image.
    ``regions`` adds the explained-region attributes (``region-stats``,
    :func:`~slicelens.attributes.assign_region.region_attributes`); ``clusters`` adds
    "kind", clusters of attribution-weighted features per class, and "shape", clusters
    of the object's shape (HOG of the foreground, model-independent) per class (both
    ``clusters``), named once per cluster by a person
    (:mod:`slicelens.attributes.cluster_names`).
    """
    extra = []
    if regions:
        from slicelens.attributes.assign_region import region_attributes

        extra += region_attributes()
    if clusters:
        extra += [Attribute("kind", backend="clusters", measure="fw", phrase="{value}"),
                  Attribute("shape", backend="clusters", measure="shape", phrase="{value}")]
    sem = [Attribute("background", backend="imagenet", region="background",
                     phrase="on {value} background",
                     question="What is the background of the {object} in the image?")]
    return (sem if semantic else []) + [
        Attribute("background colour", backend="stats", measure="background_colour",
                  phrase="on {value} background"),
        Attribute("lighting", ["dark", "dim", "bright"], backend="stats", measure="brightness",
                  phrase="in {value} light"),
        Attribute("colour", backend="stats", measure="object_colour", phrase="{value} {object}s"),
        Attribute("object size", ["small", "medium", "large"], backend="stats",
                  measure="object_size", phrase="{value} {object}s"),
        Attribute("position", ["centre", "left", "right", "top", "bottom"], backend="stats",
                  measure="position", phrase="at the {value}"),
        Attribute("texture", ["smooth", "textured", "rough"], backend="stats", measure="texture",
                  phrase="with {value} texture"),
        Attribute("blur", ["sharp", "slightly blurred", "blurred"], backend="stats",
                  measure="sharpness", phrase="{value} {object}s"),
        Attribute("clutter", ["plain", "busy", "cluttered"], backend="stats", measure="clutter",
                  phrase="in a {value} scene"),
    ] + extra


@register_proposer("builtin")
class BuiltinProposer(Backend):
    """Task-independent visual attributes (offline, no model)."""

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        object: str = Field("object", description="what the classifier looks at, for descriptions")
        semantic: bool = Field(True, description="include the ImageNet-assigned 'background'")
        regions: bool = Field(False, description="add the explained-region attributes "
                                                 "(region-stats)")
        clusters: bool = Field(False, description="add 'kind': feature clusters per class, "
                                                  "named once per cluster")

    def propose(self, task: str = "") -> AttributeSpec:
        return AttributeSpec(builtin_attributes(self.p.semantic, self.p.regions,
                                                self.p.clusters),
                             source="builtin", task=task, object=self.p.object)


@register_proposer("user")
class UserProposer(Backend):
    """A user-written attribute list (YAML or JSON: names, optional values)."""

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        path: str = Field(..., description="YAML / JSON file with the attribute list")

    def propose(self, task: str = "") -> AttributeSpec:
        spec = AttributeSpec.load(self.p.path)
        spec.source = "user"
        spec.task = spec.task or task
        return spec


def propose_attributes(backend: str = "builtin", task: str = "", **params) -> AttributeSpec:
    """Propose an attribute list with the named backend (``PROPOSERS`` key)."""
    return get_backend(PROPOSERS, backend, **params).propose(task)
