"""Print the stand-file reference (every key, default and description) as Markdown, from
the pydantic models themselves so that the documentation cannot drift from the code.

Run: python -m trackerdcs.config.reference > docs/configuration.md
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from trackerdcs.config.model import Stand


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            out += _models(arg)
    return out


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return f"`{field.default!r}`" if field.default is not None else "none"
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "—"
        return "(section)" if isinstance(value, BaseModel) else f"`{value!r}`"
    return "**required**"


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"  # as the stand file spells it
        subs = _models(field.annotation)
        desc = (field.description or (subs[0].__doc__ or "").strip().split("\n")[0] if subs
                else field.description or "")  # fmt: skip
        out.append(f"| `{key}` | {_default(field)} | {desc.replace('|', '/')} |")
        for sub in subs:
            if sub is not model:
                out += rows(sub, f"{key}.")
    return out


def main() -> None:
    print("# Stand-file reference\n")
    print("Generated from the models by `python -m trackerdcs.config.reference`. Unknown keys")
    print("are errors; errors name the file, the line and the key.\n")
    print("| key | default | meaning |\n|---|---|---|")
    print("\n".join(rows(Stand)))


if __name__ == "__main__":
    main()
