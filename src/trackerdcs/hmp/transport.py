"""SCPI over a raw TCP socket (port 5025), on the service's loop.

A plain asyncio stream rather than pyvisa + pyvisa-py: the protocol is one ASCII line per
command and per answer, our services are asyncio, and pyvisa's blocking calls would need a
thread per request and two more dependencies for what `open_connection` and `readline` do.
Every exchange holds one lock (a query's answer must not be read by another query) and is
bounded by `timeout`; any failure closes the socket and raises HmpError naming what failed.
"""

from __future__ import annotations

import asyncio

from trackerdcs.core.device import DeviceError
from trackerdcs.hmp import protocol as p


class HmpError(DeviceError):
    """No answer, a garbled one, the socket gone, or the instrument reporting an error."""


class Scpi:
    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def open(self) -> None:
        await self.close()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise HmpError(f"cannot connect to {self.where}: {exc or 'timed out'}") from None

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (OSError, TimeoutError):
                pass

    async def _exchange(self, lines: list[str], answers: int) -> list[str]:
        async with self._lock:
            if self._writer is None or self._reader is None:
                raise HmpError(f"not connected to {self.where}")
            try:
                self._writer.write("".join(f"{line}\n" for line in lines).encode())
                await asyncio.wait_for(self._writer.drain(), self.timeout)
                out = []
                for _ in range(answers):
                    raw = await asyncio.wait_for(self._reader.readline(), self.timeout)
                    if not raw:
                        raise HmpError(f"{self.where} closed the connection")
                    out.append(raw.decode("ascii", "replace").strip())
                return out
            except TimeoutError:
                await self._drop()
                raise HmpError(f"no answer from {self.where} within {self.timeout:g} s to "
                               f"{lines[-1]!r}") from None  # fmt: skip
            except (OSError, HmpError) as exc:
                await self._drop()
                raise HmpError(str(exc) or f"{self.where}: connection lost") from None

    async def _drop(self) -> None:
        # after a timeout a late answer could be read as the next query's: start afresh
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def query(self, line: str) -> str:
        return (await self._exchange([line], 1))[0]

    async def queries(self, lines: list[str], setup: list[str] | None = None) -> list[str]:
        """Several queries in one write (after `setup` commands, which answer nothing): one
        answer each, in order."""
        return await self._exchange([*(setup or []), *lines], len(lines))

    async def write(self, *lines: str) -> None:
        """Write commands, then read the error queue: the instrument's refusal (`-222,"Data
        out of range"`) is raised, not lost."""
        answer = (await self._exchange([*lines, p.ERROR_QUERY], 1))[0]
        try:
            code, text = p.parse_error(answer)
        except ValueError:
            raise HmpError(f"{self.where}: unreadable error queue answer {answer!r}") from None
        if code != p.NO_ERROR:
            raise InstrumentRefused(f'{" / ".join(lines)}: {code},"{text}"')


class InstrumentRefused(Exception):
    """The instrument understood the line and refused it (its error queue said so)."""
