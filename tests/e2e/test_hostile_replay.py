"""`bench/hostile_inputs.py` stays runnable (it replays issue 28's inputs with these tests'
helpers): its server, command-line and MCP parts at a small size, every input as expected and
`/health` under 1 s. The full replay (damage, a full disk, 20,000 records, a 3 MB upload) is
run on purpose: `python -m bench.hostile_inputs` (docs/security.md)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.hostile_inputs import main


def test_the_replay_runs_and_every_input_is_handled(tmp_path: Path) -> None:
    code = main(
        [
            "--out",
            str(tmp_path),
            "--upload-bytes",
            "20000",
            "--skip",
            "damage",
            "disk",
            "records",
        ]
    )
    result = json.loads((tmp_path / "hostile_inputs.json").read_text())
    failed = [o for o in result["outcomes"] if not o["ok"]]
    assert code == 0 and not failed, failed
    assert result["inputs"] >= 30 and result["health_worst_s"] < 1.0
