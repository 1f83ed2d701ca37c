"""The stand file: one YAML file describing a whole test stand."""

from typing import TYPE_CHECKING, Any

from trackerdcs.config.loader import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from trackerdcs.config.model import Stand, load_stand

__all__ = ["ConfigError", "ConfigProblem", "Stand", "load_stand"]


def __getattr__(name: str) -> Any:
    # lazy: each device family's config module imports trackerdcs.config.base, and the
    # stand model imports every family's config; eager import here would be a cycle
    if name in ("Stand", "load_stand"):
        from trackerdcs.config import model

        return getattr(model, name)
    raise AttributeError(name)
