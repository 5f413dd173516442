"""One router per resource; ``ROUTERS`` is what ``create_app`` mounts under ``/api``."""

from slicelens.server.routers import (
    annotations,
    attributes,
    jobs,
    mosaic,
    repair,
    runs,
    samples,
    slices,
    spuriousness,
    tda,
)

ROUTERS = [runs.router, samples.router, slices.router, annotations.router,
           spuriousness.router, mosaic.router, attributes.router, tda.router, repair.router,
           jobs.router]
