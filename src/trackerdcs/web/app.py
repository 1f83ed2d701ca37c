"""The FastAPI application: login, live state over a WebSocket, commands with their replies,
history from the historian, and the audit log."""

# FastAPI resolves annotations at runtime: no `from __future__ import annotations` here.

import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from trackerdcs.config.model import Stand
from trackerdcs.core import peers
from trackerdcs.core.bus import Bus
from trackerdcs.core.commands import CommandSpec, catalogue, required_role
from trackerdcs.core.registry import families, load
from trackerdcs.storage.events import TAGS
from trackerdcs.storage.historian import HistorianError, open_historian
from trackerdcs.web.audit import AuditLog
from trackerdcs.web.config import WebConfig
from trackerdcs.web.live import LiveState
from trackerdcs.web.security import LoginThrottle, Sessions, private_file, same_origin
from trackerdcs.web.users import Users, rank

STATIC = Path(__file__).parent / "static"
# Swagger UI and ReDoc as files of a package: a stand's network often has no internet
API_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
COOKIE = "trackerdcs_session"
# a command path is words joined by "/": MQTT wildcards or empty levels are not commands
COMMAND_PATH = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


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
    if not path.exists() or not path.read_text().strip():
        private_file(path)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(stand: Stand, cfg: WebConfig, bus: Bus, live: LiveState) -> FastAPI:
    # the API description is served below, behind the login like everything else
    app = FastAPI(title="trackerdcs", docs_url=None, redoc_url=None, openapi_url=None)
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
    sessions = Sessions(data / "web-sessions.sqlite", max_age)
    throttle = LoginThrottle(cfg.login_failures, 60.0)

    def who(token: str | None) -> dict[str, str] | None:
        """The session's user and current role, or None."""
        try:
            sid = signer.loads(token or "", max_age=max_age)["sid"]
        except (BadSignature, KeyError, TypeError):
            return None
        user = sessions.user(sid)
        role = users.role(user) if user is not None else None
        if user is None or role is None:
            return None
        return {"user": user, "role": role, "sid": sid}

    def session(request: Request) -> dict[str, str]:
        token = request.cookies.get(COOKIE)
        if not token:
            raise HTTPException(401, "log in first")
        s = who(token)
        if s is None:
            raise HTTPException(401, "session ended: log in again")
        return s

    SessionDep = Annotated[dict[str, str], Depends(session)]

    @app.middleware("http")
    async def same_origin_only(request: Request, call_next: Any) -> Response:
        if request.method not in SAFE_METHODS:
            if not same_origin(request.headers.get("origin"), request.headers.get("host"),
                               cfg.allowed_origins):  # fmt: skip
                return JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
            ctype = request.headers.get("content-type", "")
            if not ctype.startswith("application/json"):
                return JSONResponse({"detail": "send JSON (Content-Type: application/json)"},
                                    status_code=415)  # fmt: skip
        response: Response = await call_next(request)
        return response

    @app.post("/api/login")
    def login(body: Login, request: Request, response: Response) -> dict[str, str]:
        address = request.client.host if request.client else "?"
        wait = throttle.wait(address, body.username)
        if wait > 0:
            raise HTTPException(429, f"too many failed logins: try again in {wait:.0f} s",
                                headers={"Retry-After": str(int(wait) + 1)})  # fmt: skip
        role = users.check(body.username, body.password)
        if role is None:
            throttle.failed(address, body.username)
            raise HTTPException(401, "wrong user name or password")
        throttle.succeeded(body.username)
        token = signer.dumps({"sid": sessions.open(body.username)})
        response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict")
        return {"user": body.username, "role": role}

    @app.post("/api/logout")
    def logout(request: Request, response: Response) -> dict[str, bool]:
        s = who(request.cookies.get(COOKIE))
        if s is not None:
            sessions.close(s["sid"])
        response.delete_cookie(COOKIE)
        return {"ok": True}

    @app.get("/api/me")
    def me(s: SessionDep) -> dict[str, str]:
        return {"user": s["user"], "role": s["role"]}

    @app.get("/api/openapi.json")
    def openapi(s: SessionDep) -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/docs")
    def docs(s: SessionDep) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json", title="trackerdcs API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/api/docs-assets/favicon.png",
        )  # fmt: skip

    @app.get("/api/redoc")
    def redoc(s: SessionDep) -> HTMLResponse:
        return get_redoc_html(openapi_url="/api/openapi.json", title="trackerdcs API",
                              redoc_js_url="/api/docs-assets/redoc.standalone.js",
                              redoc_favicon_url="/api/docs-assets/favicon.png",
                              with_google_fonts=False)  # fmt: skip

    @app.get("/api/stand")
    def stand_info(s: SessionDep) -> dict[str, Any]:
        """The stand's name and, per UI panel, the topic roots of the services behind it."""
        safety = stand.section("safety")
        door = safety.door.topic if safety is not None and safety.door is not None else None
        return {"name": stand.stand.name, "panels": panels, "door": door}

    @app.get("/api/state")
    async def state(s: SessionDep) -> dict[str, Any]:
        return {"ts": time.time(), "topics": live.snapshot()}

    @app.post("/api/cmd/{service}/{command:path}")
    async def command(s: SessionDep, service: str, command: str,
                      payload: Annotated[Any, Body()] = None) -> JSONResponse:  # fmt: skip
        if service not in roles:
            raise HTTPException(404, f"no service '{service}'; known: {', '.join(roles)}")
        if not COMMAND_PATH.fullmatch(command):
            raise HTTPException(400, f"'{command}' is not a command name (letters, digits, "
                                "'_', '-', '.', levels joined by '/')")  # fmt: skip
        need = required_role(roles.get(service, {}), command)
        if rank(s["role"]) < rank(need):
            audit.record(s["user"], s["role"], service, command, payload, False,
                         f"forbidden for role {s['role']}")  # fmt: skip
            raise HTTPException(403, f"{command} needs the {need} role; you are {s['role']}")
        # audited before it is sent: a command that cannot be audited is not sent at all
        row = audit.record(s["user"], s["role"], service, command, payload, None, "sent")
        try:
            reply = await bus.request(
                service, command, payload, cfg.command_timeout, s["user"], "web"
            )
        except (TimeoutError, ConnectionError) as exc:
            err = (
                str(exc)
                if isinstance(exc, ConnectionError)
                else f"no reply from {service} within {cfg.command_timeout:g} s (is it online?)"
            )
            audit.outcome(row, None, err)
            return JSONResponse({"ok": False, "error": err}, status_code=504)  # fmt: skip
        audit.outcome(row, reply.get("ok"), reply.get("error"))
        return JSONResponse(reply)

    @app.get("/api/audit")
    def audit_log(s: SessionDep, limit: int = 200) -> list[dict[str, Any]]:
        # who did what is for those who act on the stand: operators and experts
        if rank(s["role"]) < rank("operator"):
            raise HTTPException(403, "the audit log needs the operator role")
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

    @app.get("/api/events")
    def events(s: SessionDep, start: float | None = None, end: float | None = None,
               module: str = "", service: str = "", kind: str = "", level: str = "",
               user: str = "", limit: int = 500) -> list[dict[str, Any]]:  # fmt: skip
        """The stand's event log, newest first (`storage/events.py`); every filter exact."""
        end = end or time.time()
        start = start if start is not None else end - 86400
        where = {k: v for k, v in (("module", module), ("service", service), ("kind", kind),
                                   ("level", level), ("user", user)) if v}  # fmt: skip
        try:
            rows = historian.events(start, end, where, max(1, min(limit, 5000)))
        except HistorianError as exc:
            raise HTTPException(503, str(exc)) from None
        return [{"ts": ts, "text": text, **{k: tags.get(k, "") for k in TAGS}}
                for ts, tags, text in rows]  # fmt: skip

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        origin_ok = same_origin(websocket.headers.get("origin"), websocket.headers.get("host"),
                                cfg.allowed_origins)  # fmt: skip
        if not origin_ok or who(websocket.cookies.get(COOKIE)) is None:
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
    app.mount("/api/docs-assets", StaticFiles(directory=API_DOCS_ASSETS), name="docs-assets")
    return app
