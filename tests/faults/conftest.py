"""Fault tests reuse the stands of the other suites (their fixtures, re-exported here)."""

from tests.safety.conftest import safety_stand  # noqa: F401
