"""Fault tests reuse the stands of the other suites (their fixtures, re-exported here)."""

from tests.caen.conftest import caen  # noqa: F401
from tests.julabo.conftest import julabo  # noqa: F401
from tests.platform.conftest import spawn  # noqa: F401
from tests.safety.conftest import safety_stand  # noqa: F401
from tests.storage.conftest import influx, storage_yaml  # noqa: F401
from tests.storage.test_recorder import recorder  # noqa: F401
from tests.web.conftest import browser, demo, login  # noqa: F401
