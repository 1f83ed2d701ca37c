"""The FastAPI application: login, live state over a WebSocket, commands with their replies,
history from the historian, and the audit log."""

# FastAPI resolves annotations at runtime: no `from __future__ import annotations` here.

import secrets
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from trackerdcs.config.model import Stand
from trackerdcs.core import peers
from trackerdcs.core.bus import Bus
from trackerdcs.core.commands import CommandSpec, catalogue, required_role
from trackerdcs.core.registry import families, load
from trackerdcs.storage.historian import HistorianError, open_historian
from trackerdcs.web.audit import AuditLog
from trackerdcs.web.config import WebConfig
from trackerdcs.web.live import LiveState
from trackerdcs.web.users import Users, rank

STATIC = Path(__file__).parent / "static"
COOKIE = "trackerdcs_session"


def command_roles(stand: Stand) -> dict[str, dict[str, CommandSpec]]:
    """service topic root -> its declared commands (with the role each needs)."""
    out: dict[str, dict[str, CommandSpec]] = {}
    for name, fam in families().items():
        root = peers.service_name(stand, name)
        if root and fam.service:
            out[root] = catalogue(load(fam.service))
    return out


class Login(BaseModel):
    username: str
    password: str


def _secret(state_dir: Path) -> str:
    path = state_dir / "web-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(stand: Stand, cfg: WebConfig, bus: Bus, live: LiveState) -> FastAPI:
    app = FastAPI(title="trackerdcs", docs_url="/api/docs", openapi_url="/api/openapi.json")
    data = stand.data_dir
    users = Users(data / cfg.users_file)
    if not users.users and cfg.demo_users:
        for role in ("viewer", "operator", "expert"):
            users.add(role, role, role)
    audit = AuditLog(data / "audit.sqlite")
    signer = URLSafeTimedSerializer(_secret(data), salt="session")
    historian = open_historian(stand)
    roles = command_roles(stand)
    panels: dict[str, list[str]] = {}
    for name, fam in families().items():
        root = peers.service_name(stand, name)
        if root and "panel" in fam.ui:
            panels.setdefault(fam.ui["panel"], []).append(root)
    max_age = int(cfg.session_hours * 3600)

    def session(request: Request) -> dict[str, str]:
        token = request.cookies.get(COOKIE)
        if not token:
            raise HTTPException(401, "log in first")
        try:
            return signer.loads(token, max_age=max_age)
        except BadSignature:
            raise HTTPException(401, "session expired: log in again") from None

    SessionDep = Annotated[dict[str, str], Depends(session)]

    @app.post("/api/login")
    def login(body: Login, response: Response) -> dict[str, str]:
        role = users.check(body.username, body.password)
        if role is None:
            raise HTTPException(401, "wrong user name or password")
        token = signer.dumps({"user": body.username, "role": role})
        response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict")
        return {"user": body.username, "role": role}

    @app.post("/api/logout")
    def logout(response: Response) -> dict[str, bool]:
        response.delete_cookie(COOKIE)
        return {"ok": True}

    @app.get("/api/me")
    def me(s: SessionDep) -> dict[str, str]:
        return s

    @app.get("/api/stand")
    def stand_info(s: SessionDep) -> dict[str, Any]:
        """The stand's name and, per UI panel, the topic roots of the services behind it."""
        return {"name": stand.stand.name, "panels": panels}

    @app.get("/api/state")
    async def state(s: SessionDep) -> dict[str, Any]:
        return {"ts": time.time(), "topics": live.snapshot()}

    @app.post("/api/cmd/{service}/{command:path}")
    async def command(s: SessionDep, service: str, command: str,
                      payload: Annotated[Any, Body()] = None) -> JSONResponse:  # fmt: skip
        need = required_role(roles.get(service, {}), command)
        if rank(s["role"]) < rank(need):
            audit.record(s["user"], s["role"], service, command, payload, False,
                         f"forbidden for role {s['role']}")  # fmt: skip
            raise HTTPException(403, f"{command} needs the {need} role; you are {s['role']}")
        try:
            reply = await bus.request(service, command, payload, cfg.command_timeout, s["user"])
        except (TimeoutError, ConnectionError) as exc:
            err = (
                str(exc)
                if isinstance(exc, ConnectionError)
                else f"no reply from {service} within {cfg.command_timeout:g} s (is it online?)"
            )
            audit.record(s["user"], s["role"], service, command, payload, None, err)
            return JSONResponse({"ok": False, "error": err}, status_code=504)  # fmt: skip
        audit.record(s["user"], s["role"], service, command, payload, reply.get("ok"),
                     reply.get("error"))  # fmt: skip
        return JSONResponse(reply)

    @app.get("/api/audit")
    def audit_log(s: SessionDep, limit: int = 200) -> list[dict[str, Any]]:
        return audit.recent(limit)

    @app.get("/api/series")
    def series(s: SessionDep, match: str = "") -> list[str]:
        try:
            return historian.series(match)
        except HistorianError as exc:
            raise HTTPException(503, str(exc)) from None

    @app.get("/api/history")
    def history(s: SessionDep, series: str, start: float, end: float | None = None,
                n: int = 500) -> dict[str, Any]:  # fmt: skip
        end = end or time.time()
        try:
            b = historian.buckets(series, start, end, max(1, min(n, 5000)))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except HistorianError as exc:
            raise HTTPException(503, str(exc)) from None
        return {"series": series, "ts": [x.ts for x in b], "min": [x.min for x in b],
                "mean": [x.mean for x in b], "max": [x.max for x in b]}  # fmt: skip

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        token = websocket.cookies.get(COOKIE)
        try:
            signer.loads(token or "", max_age=max_age)
        except BadSignature:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        q = live.connect()
        try:
            await websocket.send_json({"snapshot": live.snapshot()})
            while True:
                item = await q.get()
                batch = [item]
                while not q.empty() and len(batch) < 500:
                    batch.append(q.get_nowait())
                await websocket.send_json({"updates": batch})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            live.disconnect(q)

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
