"""Channel Access side: the PVs of one LV or HV channel, monitored, read through pyepics.

pyepics reads EPICS_CA_* from the environment when libca starts, so `configure_ca()` must
run before the first PV is created. Monitor callbacks arrive on CA threads: they only
update the cache; the service evaluates states in its own thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from trackerdcs.caen.config import HV_PARAMS, LV_PARAMS, CaenConfig

log = logging.getLogger("trackerdcs.caen.driver")

MONITORED = ("Pw", "Status", "VMon", "IMon")
LV_READ = (*MONITORED, *LV_PARAMS, "Temp")
HV_READ = (*MONITORED, *HV_PARAMS)


def configure_ca(cfg: CaenConfig) -> None:
    os.environ["EPICS_CA_ADDR_LIST"] = cfg.ca_addr_list
    os.environ["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
    if cfg.ca_server_port:
        os.environ["EPICS_CA_SERVER_PORT"] = str(cfg.ca_server_port)
    os.environ.setdefault("EPICS_CA_MAX_ARRAY_BYTES", "100000")


class SidePVs:
    """LV or HV half of a module channel: cached values with their timestamps."""

    def __init__(self, side: str, base: str, on_change: Callable[[], None]):
        self.side = side
        self.base = base
        self.on_change = on_change
        self.values: dict[str, Any] = {}
        self.stamps: dict[str, float] = {}
        self._connected: dict[str, bool] = {}
        self._lock = threading.Lock()
        self.pvs: dict[str, Any] = {}
        self.names = LV_READ if side == "lv" else HV_READ

    def connect(self) -> None:
        import epics

        for param in self.names:
            name = f"{self.base}:{param}"
            self._connected[param] = False
            self.pvs[param] = epics.PV(
                name,
                auto_monitor=True,
                form="time",
                callback=self._on_value,
                connection_callback=self._on_conn,
                connection_timeout=2.0,
            )

    def disconnect(self) -> None:
        for pv in self.pvs.values():
            try:
                pv.clear_callbacks()
                pv.disconnect()
            except Exception as exc:
                log.debug("disconnect %s: %s", pv.pvname, exc)
        self.pvs.clear()
        with self._lock:
            self._connected = dict.fromkeys(self.names, False)

    def _param(self, pvname: str) -> str:
        return pvname.rsplit(":", 1)[-1]

    def _on_value(self, pvname: str | None = None, value: Any = None, **kw: Any) -> None:
        if pvname is None:
            return
        param = self._param(pvname)
        with self._lock:
            self.values[param] = value
            self.stamps[param] = kw.get("timestamp") or time.time()
        self.on_change()

    def _on_conn(self, pvname: str | None = None, conn: bool = False, **kw: Any) -> None:
        if pvname is None:
            return
        with self._lock:
            self._connected[self._param(pvname)] = bool(conn)
        self.on_change()

    @property
    def connected(self) -> bool:
        with self._lock:
            return bool(self._connected) and all(self._connected.values())

    def get(self, param: str, default: Any = None) -> Any:
        with self._lock:
            return self.values.get(param, default)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.values)

    def put(self, param: str, value: Any) -> None:
        """Write without waiting for completion; raises ConnectionError when unreachable."""
        pv = self.pvs.get(param)
        if pv is None or not pv.connected:
            raise ConnectionError(f"{self.base}:{param} is not connected")
        pv.put(value, wait=False)

    def read_all(self, timeout: float = 2.0) -> None:
        """Refresh every cached value from the IOC (after a reconnect: never assume)."""
        for param, pv in list(self.pvs.items()):
            if pv.connected:
                v = pv.get(timeout=timeout, use_monitor=False)
                if v is not None:
                    with self._lock:
                        self.values[param] = v
                        self.stamps[param] = pv.timestamp or time.time()


def put_global(prefix: str, param: str, value: Any, timeout: float = 2.0) -> bool:
    import epics

    return epics.caput(f"{prefix}:{param}", value, wait=False, timeout=timeout) is not None
