"""Channel Access through pyepics, delivered to the service's loop.

pyepics (it bundles libca, reconnects by itself and resumes monitors after an IOC restart)
calls back on CA threads; those callbacks only hand the value to the loop with
`call_soon_threadsafe`, so every signal changes on the loop, in order, without a lock.
Puts are `wait=False` (libca queues and flushes them at once): no thread needed. pyepics
reads EPICS_CA_* when libca starts, so `configure_ca()` must run before the first PV.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from trackerdcs.caen.config import CaenConfig
from trackerdcs.caen.protocol import HV_READ, LV_READ, MONITORED
from trackerdcs.core.signal import Signal

log = logging.getLogger("trackerdcs.caen.transport")


def ensure_repeater() -> bool:
    """A CA repeater for this host, in this process, unless one runs already. libca starts
    `caRepeater` from PATH when none answers, and without EPICS base installed it prints
    `The executable "caRepeater" couldn't be located` at every start (pyepics ships libca
    only). caproto's repeater takes the port first, on a daemon thread: libca finds it
    there and says nothing. True when this process serves it."""
    from caproto.sync import repeater

    port = int(os.environ.get("EPICS_CA_REPEATER_PORT", "5065"))
    addr = ("0.0.0.0", port)
    try:
        sock = repeater.check_for_running_repeater(addr)  # bound: ours now
    except repeater.RepeaterAlreadyRunning:
        return False
    except OSError as exc:
        log.debug("no CA repeater started: %s", exc)
        return False
    # caproto's own loop (private, pinned version): serving the socket we bound above
    threading.Thread(target=repeater._run_repeater, args=(sock, addr), name="ca-repeater",
                     daemon=True).start()  # fmt: skip
    return True


def configure_ca(cfg: CaenConfig) -> None:
    ensure_repeater()
    os.environ["EPICS_CA_ADDR_LIST"] = cfg.ca_addr_list
    os.environ["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
    if cfg.ca_server_port:
        os.environ["EPICS_CA_SERVER_PORT"] = str(cfg.ca_server_port)
    os.environ.setdefault("EPICS_CA_MAX_ARRAY_BYTES", "100000")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class SidePVs:
    """LV or HV half of a module channel: one signal per PV parameter."""

    def __init__(self, side: str, base: str, on_change: Callable[[], None]):
        self.side = side
        self.base = base
        self.on_change = on_change
        self.names = LV_READ if side == "lv" else HV_READ
        self.signals: dict[str, Signal[Any]] = {
            p: Signal(f"{side}_{p}", source=f"{base}:{p}") for p in self.names
        }
        self._conn: dict[str, bool] = dict.fromkeys(self.names, False)
        # False while the IOC holds its connections but no longer answers (frozen): CA
        # notices only after EPICS_CA_CONN_TMO (30 s), the read-back watchdog much sooner
        self.answering = True
        # what we last wrote, and writes the IOC has not yet confirmed: read-back lags a
        # command, so "LV is on" or "HV is down" also needs our own last order to agree
        self.target: dict[str, Any] = {}
        self._in_flight: dict[str, int] = {}
        self.pending: Signal[int] = Signal(f"{side}_pending", source=f"{base}:puts")
        self.pending.update(0)
        self.pvs: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def connect(self) -> None:
        import epics

        self._loop = asyncio.get_running_loop()
        for param in self.names:
            self.pvs[param] = epics.PV(
                f"{self.base}:{param}", auto_monitor=True, form="time",
                callback=self._on_value, connection_callback=self._on_conn,
                connection_timeout=2.0,
            )  # fmt: skip

    def disconnect(self) -> None:
        for pv in self.pvs.values():
            try:
                pv.clear_callbacks()
                pv.disconnect()
            except Exception as exc:
                log.debug("disconnect %s: %s", pv.pvname, exc)
        self.pvs.clear()
        for param in self.names:
            self._set_conn(param, False)

    # CA threads -> loop
    def _on_value(self, pvname: str | None = None, value: Any = None, **kw: Any) -> None:
        if pvname is not None and self._loop is not None:
            param = pvname.rsplit(":", 1)[-1]
            self._loop.call_soon_threadsafe(self._set, param, _plain(value), kw.get("timestamp"))

    def _on_conn(self, pvname: str | None = None, conn: bool = False, **kw: Any) -> None:
        if pvname is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._set_conn, pvname.rsplit(":", 1)[-1], conn)

    # on the loop
    def _set(self, param: str, value: Any, ts: float | None) -> None:
        if self._conn.get(param):
            self.signals[param].update(value, ts or None)
            self.on_change()

    def _set_conn(self, param: str, conn: bool) -> None:
        self._conn[param] = bool(conn)
        if not conn:
            self.signals[param].invalidate()
            self._in_flight.pop(param, None)  # no confirmation will come for it now
            self._count_pending()
        self.on_change()

    def _put_done(self, pvname: str | None = None, **kw: Any) -> None:  # CA thread
        if pvname is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._confirmed, pvname.rsplit(":", 1)[-1])

    def _confirmed(self, param: str) -> None:
        left = self._in_flight.get(param, 0) - 1
        if left > 0:
            self._in_flight[param] = left
        else:
            self._in_flight.pop(param, None)
        self._count_pending()
        self.on_change()

    def _count_pending(self) -> None:
        self.pending.update(sum(self._in_flight.values()))

    def settled(self, param: str) -> bool:
        """Every write of `param` confirmed by the IOC (its read-back can be believed)."""
        return self._in_flight.get(param, 0) == 0

    def frozen(self) -> None:
        """The IOC stopped answering: nothing it said before stays current."""
        self.answering = False
        self._in_flight.clear()
        self.pending.update(0)
        for sig in self.signals.values():
            sig.invalidate()
        self.on_change()

    @property
    def connected(self) -> bool:
        # connected but not yet read is not "off": the monitored values must be there
        return (
            self.answering
            and all(self._conn.values())
            and all(self.signals[p].value is not None for p in MONITORED)
        )

    def get(self, param: str) -> Any:
        return self.signals[param].value

    def put(self, param: str, value: Any) -> None:
        """Write without waiting for completion (the IOC's confirmation is counted when it
        comes); ConnectionError when unreachable."""
        pv = self.pvs.get(param)
        if pv is None or not pv.connected:
            raise ConnectionError(f"{self.base}:{param} is not connected")
        self.target[param] = value
        self._in_flight[param] = self._in_flight.get(param, 0) + 1
        self._count_pending()
        pv.put(value, wait=False, callback=self._put_done)

    async def read_all(self, timeout: float = 2.0) -> None:
        """Every value again from the IOC (after a reconnect or `refresh`: never assume)."""

        def read() -> dict[str, tuple[Any, float | None]]:
            out = {}
            for param, pv in list(self.pvs.items()):
                if pv.connected:
                    v = pv.get(timeout=timeout, use_monitor=False)
                    if v is not None:
                        out[param] = (_plain(v), pv.timestamp)
            return out

        for param, (value, ts) in (await asyncio.to_thread(read)).items():
            self._set(param, value, ts)

    async def answers(self, param: str, timeout: float) -> bool:
        """A fresh read (not the monitor's copy) of one PV comes back within `timeout`."""
        pv = self.pvs.get(param)
        if pv is None or not pv.connected:
            return True  # not connected is the connection callbacks' business, not ours

        def read() -> bool:
            return pv.get(timeout=timeout, use_monitor=False) is not None

        return await asyncio.to_thread(read)


def put_global(prefix: str, param: str, value: Any, timeout: float = 2.0) -> bool:
    import epics

    return epics.caput(f"{prefix}:{param}", value, wait=False, timeout=timeout) is not None
