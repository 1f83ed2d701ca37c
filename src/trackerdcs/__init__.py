"""trackerdcs: slow control for CMS Phase-2 Tracker module test stands."""

__version__ = "0.1.0"
