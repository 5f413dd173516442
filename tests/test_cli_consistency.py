"""One name per meaning across commands, old spellings working with a deprecation note,
stored slices listed without recomputation, the run named in the first line, readable
history, defaults said once."""

from __future__ import annotations

import pytest
from fixtures_report import full_workspace

from slicelens.cli import build_parser, main


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return full_workspace(tmp_path_factory.mktemp("cli") / "ws")


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_slices_list_reads_stored_slices_without_recomputing(full, capsys):
    ws, run = full
    stored = run.path / "slices" / "error-clustering.json"
    before = stored.stat().st_mtime_ns
    code, out, _ = _run(capsys, "slices", "-w", str(ws.root), "--list", "--slicer",
                        "error-clustering", "--show", "2")
    assert code == 0 and stored.stat().st_mtime_ns == before
    lines = out.splitlines()
    assert lines[0].startswith(f"run {run.id} ") and "stored slices" in lines[1]
    assert "error-clustering-00" in out and "error-clustering-02" not in out
    assert "stored slice sets: attributes, attribution, error-clustering" in out


def test_old_top_still_works_with_a_deprecation_note(full, capsys):
    ws, _ = full
    code, out, err = _run(capsys, "slices", "-w", str(ws.root), "--list", "--top", "1")
    assert code == 0 and "--top is deprecated" in err and "use --show" in err
    assert "attribution-00" in out and "attribution-01" not in out


def test_one_slice_address_everywhere_and_readable_history(full, capsys):
    ws, run = full
    code, out, err = _run(capsys, "annotate", "-w", str(ws.root), "--slice",
                          "error-clustering:error-clustering-01", "--label", "core",
                          "--description", "plain")
    assert code == 0 and not err and "error-clustering-01" in out
    mark = run.marks()["id"].max()
    code, out, err = _run(capsys, "annotate", "-w", str(ws.root), "--slicer", "error-clustering",
                          "--slice", "error-clustering-02", "--label", "core")
    assert code == 0 and "deprecated" in err and "--slice error-clustering:error-clustering-02" in err
    code, out, _ = _run(capsys, "annotate", "-w", str(ws.root), "--edit", str(mark), "--label",
                        "spurious", "--description", "green grass")
    code, out, _ = _run(capsys, "annotate", "-w", str(ws.root), "--history", str(mark))
    assert code == 0 and "{" not in out
    assert "marked error-clustering-01 core: 'plain'" in out
    assert "label 'core' -> 'spurious'" in out and "description 'plain' -> 'green grass'" in out


def test_thresholds_have_distinct_names_and_old_alpha_still_parses(capsys):
    args = build_parser(["bugs"]).parse_args(["bugs", "--spurious-threshold", "0.7"])
    assert args.alpha == 0.7 and args.show == 10
    args = build_parser(["bugs"]).parse_args(["bugs", "--alpha", "0.75", "--top", "3"])
    assert args.alpha == 0.75 and args.show == 3
    tda = build_parser(["tda"]).parse_args(["tda", "--wrong-labels", "--significance", "0.01",
                                            "--exact-top", "4", "--show", "7"])
    assert (tda.alpha, tda.top, tda.show) == (0.01, 4, 7)
    old = build_parser(["tda"]).parse_args(["tda", "--wrong-labels", "--alpha", "0.02",
                                            "--top", "3"])
    assert (old.alpha, old.top) == (0.02, 3)
    err = capsys.readouterr().err
    assert "--alpha is deprecated" in err and "--significance" in err and "--exact-top" in err


@pytest.mark.parametrize("command", ["slices", "bugs", "tda", "annotate", "report", "export"])
def test_help_says_each_default_once(command):
    text = build_parser([command])._subparsers._group_actions[0].choices[command].format_help()
    for line in text.split("  --"):
        assert line.count("(default:") <= 1, line


def test_commands_default_to_the_analysed_base_run(full, capsys):
    ws, run = full
    code, out, _ = _run(capsys, "annotate", "-w", str(ws.root), "--list")
    assert out.splitlines()[0] == (f"run {run.id} in {ws.root} (the analysed base run; "
                                   "--run to choose)")
    assert ws.latest_run().id != run.id  # the newest run is the repair


def test_runs_says_what_each_run_was_made_from(full, capsys):
    ws, run = full
    code, out, _ = _run(capsys, "runs", "-w", str(ws.root))
    assert code == 0 and f"control of {run.id}" in out and f"dfr of {run.id}" in out
    assert f"commands read {run.id} (the analysed base run)" in out
