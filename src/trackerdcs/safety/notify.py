"""Alarm notifications by e-mail (SMTP) and a generic webhook, deduplicated and rate-limited.

Sending happens on a worker thread so that a slow mail server never delays an interlock.
"""

from __future__ import annotations

import logging
import os
import queue
import smtplib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from trackerdcs.core.alarms import RANK
from trackerdcs.core.contracts import AlarmState
from trackerdcs.safety.config import Notify

log = logging.getLogger("trackerdcs.notify")


@dataclass(frozen=True)
class Notice:
    """One message to send: an alarm, or a procedure's end (a sequence done or failed)."""

    name: str
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _shelved(a: AlarmState) -> bool:
    return (a.shelved_until or 0) > time.time()


class Notifier:
    def __init__(self, cfg: Notify, stand_name: str):
        self.cfg = cfg
        self.stand_name = stand_name
        self.started = time.monotonic()
        self._sent: dict[tuple[str, str], float] = {}  # (alarm, severity) -> when
        self._window: deque[float] = deque()
        self._held: dict[str, AlarmState] = {}
        self._unacked: dict[str, AlarmState] = {}  # for reminders
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self.suppressed = 0
        self.delivered: list[str] = []
        self._thread = threading.Thread(target=self._worker, daemon=True, name="notify")
        self._thread.start()

    @property
    def enabled(self) -> bool:
        return self.cfg.smtp is not None or self.cfg.webhook is not None

    def alarm(self, a: AlarmState) -> None:
        """Called with every `alarms/<name>` payload; decides whether to notify."""
        if not self.enabled:
            return
        name = a.name
        quiet = RANK.get(a.severity, 0) < RANK[self.cfg.min_severity] or _shelved(a)
        if not a.active or quiet:
            self._held.pop(name, None)
            self._unacked.pop(name, None)
            return
        if a.acknowledged:
            self._unacked.pop(name, None)
        else:
            self._unacked[name] = a
        if time.monotonic() - self.started < self.cfg.startup_grace:
            self._held[name] = a  # after a restart, wait: the condition may already be gone
            return
        self._consider(a)

    def tick(self) -> None:
        if self._held and time.monotonic() - self.started >= self.cfg.startup_grace:
            held, self._held = self._held, {}
            for a in held.values():
                self._consider(a)
        if time.monotonic() - self.started < self.cfg.startup_grace:
            return
        # nag: an active alarm nobody acknowledged is announced again every repeat_after s
        for a in list(self._unacked.values()):
            if not _shelved(a):
                self._consider(a)

    def _consider(self, a: AlarmState) -> None:
        key = (a.name, a.severity)
        now = time.monotonic()
        last = self._sent.get(key)
        if last is not None and now - last < self.cfg.repeat_after:
            return  # the same alarm at the same severity was already announced
        if not self._room(a.name):
            return
        self._sent[key] = now
        self._send(self._alarm_notice(a))

    def notice(self, name: str, subject: str, text: str, data: dict[str, Any]) -> bool:
        """A message outside the alarm logic (no severity filter, no repeat), still within
        max_per_hour. False when not sent (nowhere to send, or the rate limit)."""
        if not self.enabled or not self._room(name):
            return False
        self._send(Notice(name, f"[{self.stand_name}] {subject}", text, data))
        return True

    def _room(self, name: str) -> bool:
        """Within max_per_hour (counted over the last hour)?"""
        now = time.monotonic()
        while self._window and now - self._window[0] > 3600:
            self._window.popleft()
        if len(self._window) >= self.cfg.max_per_hour:
            self.suppressed += 1
            log.warning("notification for %s suppressed (rate limit)", name)
            return False
        return True

    def _send(self, n: Notice) -> None:
        self._window.append(time.monotonic())
        self._queue.put(n)

    def _alarm_notice(self, a: AlarmState) -> Notice:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(a.since or 0))
        return Notice(
            a.name, f"[{self.stand_name}] {a.severity} {a.name}: {a.message}",
            f"Stand {self.stand_name}\nAlarm {a.name} ({a.source})\nSeverity {a.severity}\n"
            f"{a.message}\nSince {since}\n",
            {"alarm": a.model_dump(mode="json")},
        )  # fmt: skip

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)

    def _worker(self) -> None:
        while (n := self._queue.get()) is not None:
            if self.cfg.webhook is not None:
                try:
                    body = {"stand": self.stand_name, "text": n.subject, **n.data}
                    r = httpx.post(
                        self.cfg.webhook.url, json=body, timeout=self.cfg.webhook.timeout
                    )
                    r.raise_for_status()
                    self.delivered.append(f"webhook:{n.name}")
                except httpx.HTTPError as exc:
                    log.error("webhook %s failed: %s", self.cfg.webhook.url, exc)
            if self.cfg.smtp is not None:
                try:
                    self._mail(n)
                    self.delivered.append(f"smtp:{n.name}")
                except (OSError, smtplib.SMTPException) as exc:
                    log.error("mail via %s failed: %s", self.cfg.smtp.host, exc)

    def _mail(self, n: Notice) -> None:
        s = self.cfg.smtp
        assert s is not None
        msg = EmailMessage()
        msg["Subject"] = n.subject
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        msg.set_content(n.text)
        with smtplib.SMTP(s.host, s.port, timeout=10) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, os.environ.get(s.password_env or "", ""))
            smtp.send_message(msg)
