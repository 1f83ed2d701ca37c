"""Issue 27: no consumer names a family. Code in runs/, safety/, web/, deploy/ and storage/
reads contracts and services' own descriptions; only a family's folder knows its device.

This test reads those folders (Python through its syntax tree: identifiers and strings,
docstrings and comments left out; JavaScript without its comments) for a device family's
name, its service's topic root or the fields it declares (its readings, its cooling
surfaces). What is there today is listed in KNOWN, file by file, as the debt issue 27 pays
off: a file that names more than its count, or a file not listed, fails; so does a file that
names fewer (lower its count: the list only shrinks)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from trackerdcs.core.registry import COOLING, POWER, families

SRC = Path(__file__).parents[2] / "src" / "trackerdcs"
CONSUMERS = ("runs", "safety", "web", "deploy", "storage")

# file -> names of families, their services and fields found there (2026-12-02)
KNOWN: dict[str, int] = {
    "deploy/cli.py": 1,
    "deploy/config.py": 1,
    "deploy/grafana.py": 2,
    "deploy/images/influxdb/entrypoint.py": 1,
    "runs/iv_scan.py": 5,
    "runs/preconditions.py": 2,
    "runs/sequencer.py": 1,
    "runs/service.py": 12,
    "safety/config.py": 2,
    "storage/cli.py": 3,
    "storage/config.py": 4,
    "storage/schema.py": 1,
    "web/static/app.js": 64,
}


def _words() -> re.Pattern[str]:
    words: set[str] = set()
    for fam in families().values():
        if not fam.roles & {POWER, COOLING}:
            continue
        words |= {fam.name, fam.topic_root}
        for volts, amps, _unit in fam.readings.values():
            words |= {volts, amps}
        if fam.cooling is not None:
            words |= set(fam.cooling.surfaces) | ({fam.cooling.reading} - {""})
    return re.compile(
        r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, words))) + r")(?![A-Za-z0-9_])"
    )


def _python_texts(source: str) -> list[str]:
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                out.append(node.value)
        elif isinstance(node, ast.Name):
            out.append(node.id)
        elif isinstance(node, ast.Attribute):
            out.append(node.attr)
        elif isinstance(node, ast.alias):
            out.append(node.name)
    return out


def _js_texts(source: str) -> list[str]:
    no_block = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return [re.sub(r"(^|[^:\"'`])//.*$", r"\1", line) for line in no_block.splitlines()]


def found() -> Counter[str]:
    pattern = _words()
    counts: Counter[str] = Counter()
    for folder in CONSUMERS:
        for path in sorted((SRC / folder).rglob("*")):
            if path.suffix == ".py":
                texts = _python_texts(path.read_text())
            elif path.suffix == ".js" and "vendor" not in path.parts:
                texts = _js_texts(path.read_text())
            else:
                continue
            n = sum(len(pattern.findall(t)) for t in texts)
            if n:
                counts[str(path.relative_to(SRC))] = n
    return counts


def test_consumers_name_no_family_beyond_the_known_debt() -> None:
    now = found()
    grown = {f: (n, KNOWN.get(f, 0)) for f, n in now.items() if n > KNOWN.get(f, 0)}
    assert not grown, ("code outside the family folders names a family, its service or its "
                       f"fields (file: (now, allowed)): {grown}")  # fmt: skip
    paid = {f: (now.get(f, 0), n) for f, n in KNOWN.items() if now.get(f, 0) < n}
    assert not paid, f"fewer than listed, lower KNOWN (file: (now, listed)): {paid}"


def test_the_check_sees_a_family_named_in_a_consumer() -> None:
    """The reader itself: a field of a family in a string, a family's service in an
    f-string, a family's name as an identifier; not in a docstring or comment."""
    pattern = _words()
    code = (
        'def f(ch):\n    """reads hv_vMon"""\n    # dcs\n'
        '    return ch["hv_vMon"], f"{x}/MARTA/status", caen\n'
    )
    assert sum(len(pattern.findall(t)) for t in _python_texts(code)) == 3
    js = 'const v = ch.hv_vMon; // julabo\n/* dcs */ const u = "CO2_TT05";'
    assert sum(len(pattern.findall(t)) for t in _js_texts(js)) == 2
