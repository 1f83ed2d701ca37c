"""Issue 11 item 10: hostile or broken stand files give `file:line: key: message`, never a
traceback, and never a limit that does not limit (NaN, infinity, a key given twice)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trackerdcs.config import ConfigError, load_stand


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackerdcs", "check", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("safety:\n  dewpoint: {warning: .nan, action: 3}\n", "safety.dewpoint.warning"),
        ("safety:\n  stale: {warning: 15, action: .inf}\n", "safety.stale.action"),
        ("safety:\n  dewpoint: {warning: 5, action: 3}\n  dewpoint: {warning: 1, action: 0}\n",
         ":3: dewpoint: duplicate key (first on line 2)"),
    ],
)  # fmt: skip
def test_limits_that_would_not_limit_are_errors(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "stand.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_stand(path)
    assert where in str(err.value)
    res = check(path)
    assert res.returncode != 0 and where in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"safety:\n  name: \xff\xfe\n", "not UTF-8 text"),
        (b"\x00\x01\x02binary\x00", "binary file"),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested"),
    ],
)
def test_garbage_files_name_the_file_not_a_traceback(tmp_path: Path, content: bytes,
                                                     message: str) -> None:  # fmt: skip
    path = tmp_path / "stand.yaml"
    path.write_bytes(content)
    res = check(path)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert str(path) in res.stderr and message in res.stderr
