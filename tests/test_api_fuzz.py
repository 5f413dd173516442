"""Property-based fuzz of the whole API from its OpenAPI schema (schemathesis): whatever
the inputs, no request may end in a server error (5xx).

Half of the generated requests are pointed at the real run and slice set (so the fuzz
reaches the code behind a valid run id, not only the 404 of a random one); requests that
start background jobs keep their random ids, so the fuzz never starts real work. The
server runs with authentication on, as ``slicelens serve`` does: a third of the requests
carry an admin token, a third an annotator's, a third none (401 / 403, never 5xx).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from test_api_support import write_fixture_slices, write_synthetic_run

from slicelens.server import Settings, create_app
from slicelens.server.auth import Caller
from slicelens.server.settings import LOOPBACK

# built at import: schemathesis's fixture-based loader does not work with pytest 9
_ROOT = Path(tempfile.mkdtemp(prefix="slicelens-fuzz-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
_WS, RUN = write_synthetic_run(_ROOT / "ws", 80)
SLICES = write_fixture_slices(RUN, k=4)
# schemathesis's ASGI client sends "Host: testserver", which the host check would refuse
TOKENS = {"fuzz-admin-token-0123456789": Caller(name="ad", role="admin"),
          "fuzz-annotator-token-012345": Caller(name="an", role="annotator")}
APP = create_app(Settings(workspace=_WS.root, allowed_hosts=(*LOOPBACK, "testserver"),
                          tokens=TOKENS))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _starts_work(case) -> bool:
    return case.method.upper() == "POST" and case.path.endswith(("/jobs", "/apply"))


@schema.parametrize()
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 ])
def test_no_server_error(case):
    run, ss = RUN, SLICES
    params = case.path_parameters or {}
    if not _starts_work(case) and hash(repr(case.query) + repr(case.body)) % 2 == 0:
        real = {"run_id": run.id, "slicer": ss.slicer, "slice_id": ss.slices[0].id}
        params.update({k: v for k, v in real.items() if k in params})
    token = [*TOKENS, None][hash(repr(case.path) + repr(case.body)) % 3]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    case.call_and_validate(headers=headers, checks=[not_a_server_error])
