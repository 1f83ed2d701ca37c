"""paho-mqtt imported without dnspython.

paho imports dnspython (installed for pymongo) when it loads, for `connect_srv`, which
nothing here calls; that import is about 0.15 s of every process's start (a stand starts
fifteen, the test suite about 700). It is hidden during paho's import only, so pymongo
still finds it for `mongodb+srv://` addresses.
"""

from __future__ import annotations

import sys

if "paho.mqtt.client" not in sys.modules and "dns" not in sys.modules:
    sys.modules["dns"] = None  # type: ignore[assignment]  # an import of it fails
    try:
        import paho.mqtt.client  # noqa: F401
    finally:
        del sys.modules["dns"]
