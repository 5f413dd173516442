"""The web app's step of ``slicelens demo``: say how to open the demo in the browser."""

from __future__ import annotations

import importlib


def step_app(st) -> None:
    """Print the command that opens the demo workspace in the web app.

    Parameters
    ----------
    st : slicelens.demo.run.DemoState
        Reads ``st.workspace``; records ``st.results["app"]`` (command, whether the
        front-end bundle is built).

    The bundle's folder is the server's ``STATIC_DIR``, looked up by name
    (``importlib``): the demo (layer 5) does not import the server (a shell).
    """
    static = importlib.import_module("slicelens.server.settings").STATIC_DIR
    command = f"slicelens serve --workspace {st.workspace.root}"
    built = (static / "index.html").exists()
    st.results["app"] = {"command": command, "bundle_built": built}
    st.echo(f"[app] explore, mark and repair in the browser: {command}"
            + ("" if built else "\n      (build the web bundle first: bash scripts/build_web.sh)"))
