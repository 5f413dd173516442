"""The web app's step of ``slicelens demo``: say how to open the demo in the browser."""

from __future__ import annotations

from slicelens.server.settings import STATIC_DIR


def step_app(st) -> None:
    """Print the command that opens the demo workspace in the web app.

    Parameters
    ----------
    st : slicelens.pipeline.demo.DemoState
        Reads ``st.workspace``; records ``st.results["app"]`` (command, whether the
        front-end bundle is built).
    """
    command = f"slicelens serve --workspace {st.workspace.root}"
    built = (STATIC_DIR / "index.html").exists()
    st.results["app"] = {"command": command, "bundle_built": built}
    st.echo(f"[app] explore, mark and repair in the browser: {command}"
            + ("" if built else "\n      (build the web bundle first: bash scripts/build_web.sh)"))
