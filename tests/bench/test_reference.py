"""The reference-run tool: it keeps a bench's newest figures and chart, refuses stale ones,
and lists every goal line it finds."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from bench import reference


@pytest.fixture
def folders(tmp_path, monkeypatch):
    results, kept = tmp_path / "results", tmp_path / "reference"
    results.mkdir()
    monkeypatch.setattr(reference, "RESULTS_DIR", results)
    monkeypatch.setattr(reference, "REFERENCE_DIR", kept)
    kept.mkdir()
    return results, kept


def figures(finished_at, **extra):
    return {
        "bench": "modes",
        "finished_at": finished_at.isoformat(),
        "logs": "/somewhere/on/the/machine",
        "machine": {"cores": 2, "cpu_model": "Test CPU", "load_average": [0.1, 0.2, 0.3]},
        **extra,
    }


def test_a_run_is_kept_with_its_chart_command_and_goals(folders):
    results, kept = folders
    started = datetime.now(UTC) - timedelta(seconds=5)
    summary = [{"mode": "cqrs", "goal_completed_met": True}, {"mode": "direct", "goal_completed_met": False}]
    (results / "modes-latest.json").write_text(json.dumps(figures(datetime.now(UTC), summary=summary)))
    (results / "modes-20261206T000000Z.png").write_bytes(b"\x89PNG chart")

    reference._keep("modes", argv=[], started=started, quick=False)
    index = reference.reference_index_write().read_text()

    kept_figures = json.loads((kept / "modes.json").read_text())
    assert kept_figures["reference"] == {"command": "python -m bench modes", "quick": False}
    assert "logs" not in kept_figures
    assert (kept / "modes.png").read_bytes() == b"\x89PNG chart"
    assert "| `summary[cqrs].goal_completed_met` | MET |" in index
    assert "| `summary[direct].goal_completed_met` | MISSED |" in index
    assert "2 cores, Test CPU" in index and "[modes.png](modes.png)" in index


def test_an_old_chart_is_not_kept_beside_new_figures(folders):
    results, kept = folders
    (kept / "modes.png").write_bytes(b"old")
    old_chart = results / "modes-20261201T000000Z.png"
    old_chart.write_bytes(b"older run")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(old_chart, (an_hour_ago, an_hour_ago))
    started = datetime.now(UTC) - timedelta(seconds=5)
    (results / "modes-latest.json").write_text(json.dumps(figures(datetime.now(UTC))))

    reference._keep("modes", argv=["--duration", "3"], started=started, quick=True)

    assert not (kept / "modes.png").exists()
    assert "(quick: a smoke run, not a reference)" in reference.reference_index_write().read_text()


def test_figures_older_than_the_run_are_refused(folders):
    results, _ = folders
    (results / "read-latest.json").write_text(json.dumps(figures(datetime.now(UTC) - timedelta(days=1))))
    with pytest.raises(SystemExit, match="bench read wrote no new figures"):
        reference._keep("read", argv=[], started=datetime.now(UTC), quick=False)


def test_goal_flags_are_found_wherever_they_sit():
    data = {"drain": {"goal_met": True}, "steady": {"goal_met": None}, "rounds": [{"goal_x_met": False}], "n": 3}
    assert reference.goal_lines(data) == [
        ("drain.goal_met", True),
        ("steady.goal_met", None),
        ("rounds[0].goal_x_met", False),
    ]
