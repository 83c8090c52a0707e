"""A file-system error on an output path is one line naming the path, the problem and the
fix, exit 1: a read-only folder and a full disk are real tmpfs mounts (root only)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Project, cli

pytestmark = pytest.mark.integration


@pytest.fixture()
def mounts(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """``read_only``: an empty read-only tmpfs; ``full``: a 64 KiB tmpfs, filled."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made: list[Path] = []
    try:
        for name, options in (("read_only", "size=64k,ro"), ("full", "size=64k")):
            folder = tmp_path / name
            folder.mkdir()
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
            made.append(folder)
        filler = tmp_path / "full" / "filler"
        with pytest.raises(OSError), filler.open("wb") as out:
            out.write(b"x" * 128 * 1024)
        yield {"read_only": tmp_path / "read_only", "full": tmp_path / "full"}
    finally:
        for folder in made:
            subprocess.run(["umount", str(folder)], check=False)


def test_output_paths_on_a_read_only_or_full_disk_are_one_line(
    breast_cancer: Project, mounts: dict[str, Path]
) -> None:
    config = ("-c", str(breast_cancer.config_path))
    rows = str(breast_cancer.folder / "data" / "score_me.csv")
    expected = {
        "read_only": "the file system is read-only; write elsewhere (-o PATH) or remount it",
        "full": "no space left on the device; free some space or write elsewhere",
    }
    for name, problem in expected.items():
        target = mounts[name] / "scores.csv"
        code, stdout, stderr = cli("predict", rows, "-o", str(target), *config)
        assert code == 1 and stdout == ""
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in stderr, stderr
        assert errors[0].startswith(f"error: {mounts[name]}/") and errors[0].endswith(problem)

    log = mounts["read_only"] / "predictions.db"
    code, stdout, stderr = cli(
        "serve", *config, "--set", f"serve.prediction_log.url=sqlite:///{log}"
    )
    assert code == 1 and stdout == "" and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"error: {mounts['read_only']}: the prediction log's folder is read-only; make it "
        "writable, point serve.prediction_log.url elsewhere, or set "
        "serve.prediction_log.enabled: false"
    )
