"""The stand file: one YAML file describing a whole test stand."""

from trackerdcs.config.loader import ConfigError, ConfigProblem
from trackerdcs.config.model import Stand, load_stand

__all__ = ["ConfigError", "ConfigProblem", "Stand", "load_stand"]
