"""One router per resource; ``ROUTERS`` is what ``create_app`` mounts under ``/api``."""

from slicelens.server.routers import (
    annotations,
    attributes,
    concepts,
    jobs,
    mosaic,
    repair,
    runs,
    samples,
    slices,
    spuriousness,
    tda,
    uploads,
)

ROUTERS = [runs.router, samples.router, slices.router, annotations.router,
           spuriousness.router, mosaic.router, attributes.router, tda.router, repair.router,
           uploads.router, jobs.router, concepts.router]

#: Routers an annotator may write through (reads need any valid token); every other
#: router needs "admin" to write: they start jobs (slicing, repair, retraining, ...).
ANNOTATOR_WRITES = (annotations.router, concepts.router)


def write_role(router) -> str:
    """The role needed to write (POST, PUT, PATCH, DELETE) through ``router``."""
    return "annotator" if any(router is r for r in ANNOTATOR_WRITES) else "admin"
