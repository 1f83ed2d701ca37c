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
from email.message import EmailMessage

import httpx

from trackerdcs.core.alarms import RANK
from trackerdcs.core.contracts import AlarmState
from trackerdcs.safety.config import Notify

log = logging.getLogger("trackerdcs.notify")


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
        self._queue: queue.Queue[AlarmState | None] = queue.Queue()
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
        while self._window and now - self._window[0] > 3600:
            self._window.popleft()
        if len(self._window) >= self.cfg.max_per_hour:
            self.suppressed += 1
            log.warning("notification for %s suppressed (rate limit)", key[0])
            return
        self._window.append(now)
        self._sent[key] = now
        self._queue.put(a)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)

    def _worker(self) -> None:
        while (a := self._queue.get()) is not None:
            subject = f"[{self.stand_name}] {a.severity} {a.name}: {a.message}"
            if self.cfg.webhook is not None:
                try:
                    body = {"stand": self.stand_name, "text": subject,
                            "alarm": a.model_dump(mode="json")}  # fmt: skip
                    r = httpx.post(
                        self.cfg.webhook.url, json=body, timeout=self.cfg.webhook.timeout
                    )
                    r.raise_for_status()
                    self.delivered.append(f"webhook:{a.name}")
                except httpx.HTTPError as exc:
                    log.error("webhook %s failed: %s", self.cfg.webhook.url, exc)
            if self.cfg.smtp is not None:
                try:
                    self._mail(subject, a)
                    self.delivered.append(f"smtp:{a.name}")
                except (OSError, smtplib.SMTPException) as exc:
                    log.error("mail via %s failed: %s", self.cfg.smtp.host, exc)

    def _mail(self, subject: str, a: AlarmState) -> None:
        s = self.cfg.smtp
        assert s is not None
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        msg.set_content(
            f"Stand {self.stand_name}\nAlarm {a.name} ({a.source})\n"
            f"Severity {a.severity}\n{a.message}\n"
            f"Since {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(a.since or 0))}\n"
        )
        with smtplib.SMTP(s.host, s.port, timeout=10) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, os.environ.get(s.password_env or "", ""))
            smtp.send_message(msg)
