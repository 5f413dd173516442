"""The CLI end to end on the fast demo, and its error handling."""

from __future__ import annotations

import re

import pytest

from slicelens.cli import COMMANDS, build_parser, main


def test_every_command_has_help(capsys):
    for name in COMMANDS:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        assert "usage: slicelens " + name in capsys.readouterr().out


def test_fast_demo_then_runs_and_extract(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["-q", "demo", "--fast", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "worst-group accuracy" in out and "Next:" in out
    # the closing summary recomputes every model's test figures, one row per model made
    summary = out[out.index("Summary on the test split"):]
    for row in ("original model", "dfr from marks (default)",
                "matched control of dfr from marks (default)", "group oracle",
                "HiBug selection from the pool", "HiBug generated debug images", "vs control"):
        assert row in summary, row
    assert "slicelens serve --workspace" in summary
    assert main(["runs", "--workspace", str(ws)]) == 0
    assert "run-0001-demo" in capsys.readouterr().out
    # extraction on the demo manifest with the trained weights, as a user would
    manifest = ws / "demo-data" / "manifest.csv"
    weights = ws / "models" / "demo-small-cnn.pt"
    assert main(["-q", "extract", "--workspace", str(ws), "--data", str(manifest),
                 "--model", "small-cnn", "--weights", str(weights), "--input-size", "24",
                 "--name", "again"]) == 0
    # the demo's later steps add repair runs, so the new run takes the next free number
    out = capsys.readouterr().out
    assert re.search(r"run run-\d{4}-again: 1200 samples", out), out


def test_untrained_builtin_is_refused(tmp_path, capsys):
    from slicelens.demo.data import DemoConfig, build_demo

    paths = build_demo(tmp_path / "d", DemoConfig(n_train=20, n_val=10, n_test=10, n_pool=0,
                                                  image_size=16))
    code = main(["extract", "--workspace", str(tmp_path / "ws"), "--data", str(paths.manifest),
                 "--model", "small-cnn"])
    assert code == 2
    assert "needs --weights" in capsys.readouterr().err


def test_bad_manifest_is_one_clean_line(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("path,split\na.png,train\n")
    code = main(["extract", "--workspace", str(tmp_path / "ws"), "--data", str(m),
                 "--model", "x.ts", "--input-size", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "label" in err and "m.csv" in err and "Traceback" not in err


def test_parser_builds_without_heavy_imports():
    # `slicelens --help` must stay quick: argument set-up may not train or load anything
    assert build_parser().prog == "slicelens"
