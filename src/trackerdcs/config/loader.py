"""Load YAML stand files and turn validation errors into `file:line: key: message`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '<top>'}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a configuration file; str() lists them one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location; return the deepest line."""
    line = node.start_mark.line + 1 if node is not None else None
    parts = list(loc)
    for k, part in enumerate(parts):
        if isinstance(node, yaml.MappingNode):
            keys = {
                str(key_node.value): (key_node, value_node) for key_node, value_node in node.value
            }
            found = keys.get(str(part))
            if found is None:
                if k + 1 < len(parts) and str(parts[k + 1]) in keys:
                    continue  # a level the model adds that the file may leave out (`settings`)
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            # pydantic adds synthetic parts (union tags, validator names): skip them
            continue
    return line


def key_of(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc)


MAX_DEPTH = 32  # a stand file is a few levels deep; more is garbage or an attack


def _error(file: str, line: int | None, key: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(file, line, key, message)])


def _check_node(node: yaml.Node | None, file: str, depth: int = 0) -> None:
    """Duplicate keys (YAML keeps the last one silently: a limit given twice must not pass)
    and absurd nesting, with the line."""
    if node is None:
        return
    if depth > MAX_DEPTH:
        raise _error(file, node.start_mark.line + 1, "", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                raise _error(file, line, name, f"duplicate key (first on line {seen[name]})")
            seen[name] = line
            _check_node(value, file, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_node(item, file, depth + 1)


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _error(file, None, "", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise _error(file, None, "", f"cannot read file: {exc}") from exc
    if "\x00" in text:
        raise _error(file, None, "", "binary file, not YAML")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_node(node, file)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise _error(file, line, "", f"YAML syntax: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise _error(file, None, "", f"YAML: {exc}") from exc
    except RecursionError:
        raise _error(file, None, "", "nested too deeply") from None
    return data, node


def validate(model: type[M], data: Any, file: str, node: yaml.Node | None = None) -> M:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"]
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check spelling)"
            problems.append(ConfigProblem(file, line_of(node, loc), key_of(loc), msg))
        raise ConfigError(problems) from None


def load_model(model: type[M], path: str | Path) -> tuple[M, yaml.Node | None]:
    """The file validated as `model`, with its YAML tree (for the lines of later checks)."""
    data, node = read_yaml(path)
    return validate(model, data, str(path), node), node
