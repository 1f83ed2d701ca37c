"""`trackerdcs deploy build`: every image of the pod, from local material only.

No image registry is needed: the base is Debian bookworm made by `mmdebstrap` and imported;
Mosquitto, InfluxDB and Node.js come from Debian's packages inside `podman build`; Python
wheels are fetched on the host for the image's Python (3.11) and installed with
`--no-index`; Node-RED and its dashboard are installed with npm on the host and copied in.
Grafana is the one public image (pulled by `deploy up` where a registry is reachable).
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path

log = logging.getLogger("trackerdcs.deploy")

BASE = "localhost/trackerdcs-base:bookworm"
PYTHON = "3.11"  # Debian bookworm's
NODE_PACKAGES = ("node-red@4.1.15", "@flowfuse/node-red-dashboard@1.31.0")  # as tested
IMAGES = ("trackerdcs", "mosquitto", "influxdb", "nodered")


def ref(name: str, tag: str) -> str:
    """The local image of one of IMAGES: `localhost/trackerdcs[-<name>]:<tag>`."""
    return f"localhost/{'trackerdcs' if name == 'trackerdcs' else 'trackerdcs-' + name}:{tag}"


class BuildError(RuntimeError):
    pass


def _run(argv: list[str], timeout: float, **kw: object) -> str:
    log.info("$ %s", " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    except FileNotFoundError as exc:
        raise BuildError(f"{argv[0]} not found: {_hint(argv[0])}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{argv[0]} took more than {timeout:.0f} s") from exc
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{' '.join(argv[:3])}… failed ({r.returncode}):\n{tail}")
    return str(r.stdout)


def _hint(tool: str) -> str:
    return {"podman": "apt-get install podman runc uidmap",
            "mmdebstrap": "apt-get install mmdebstrap",
            "npm": "apt-get install nodejs npm"}.get(tool, "install it")  # fmt: skip


def image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref], timeout=30).returncode == 0


def image_size(ref: str) -> int:
    out = _run(["podman", "image", "inspect", "--format", "{{.Size}}", ref], 30)
    return int(out.strip())


def base(rebuild: bool = False, mirror: str | None = None) -> None:
    if image_exists(BASE) and not rebuild:
        return
    with tempfile.TemporaryDirectory(prefix="trackerdcs-base-") as tmp:
        tar = Path(tmp) / "base.tar"
        excludes = [f"--dpkgopt=path-exclude=/usr/share/{p}/*" for p in ("doc", "man", "info")]
        _run(["mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
              *excludes, "--dpkgopt=path-include=/usr/share/doc/*/copyright",
              "bookworm", str(tar), *([mirror] if mirror else [])], 900)  # fmt: skip
        _run(["podman", "import", "--change", 'CMD ["/bin/bash"]', str(tar), BASE], 300)


def project_source() -> Path:
    """The checkout trackerdcs runs from (an editable install), for its wheel."""
    dist = metadata.distribution("trackerdcs")
    direct = dist.read_text("direct_url.json")
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://"):
            return Path(url.removeprefix("file://"))
    raise BuildError("trackerdcs is not installed from a checkout: pass --source DIR")


def wheelhouse(source: Path, into: Path) -> None:
    """trackerdcs's wheel and every dependency, as wheels for the image's Python."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "-w", str(into), str(source)], 600)
    wheel = next(into.glob("trackerdcs-*.whl"))
    arch = platform.machine()
    plats = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 31, 28, 27, 26, 17, 12, 5)]
    plats += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    _run([*pip, "download", "--only-binary=:all:", "--python-version", PYTHON,
          "--implementation", "cp", *[a for p in plats for a in ("--platform", p)],
          "-d", str(into), str(wheel)], 900)  # fmt: skip


def node_red(into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    (into / "package.json").write_text('{"name": "trackerdcs-nodered", "private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--omit=dev",
          *NODE_PACKAGES], 900, cwd=str(into))  # fmt: skip


def _context(name: str, into: Path) -> None:
    src = resources.files("trackerdcs.deploy") / "images" / name
    for item in src.iterdir():
        if item.is_file():
            (into / item.name).write_bytes(item.read_bytes())


def build(
    names: list[str],
    tag: str,
    source: Path | None = None,
    rebuild_base: bool = False,
    mirror: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, float]:
    """Build `names` (default all); returns seconds per image."""
    took: dict[str, float] = {}
    t0 = time.monotonic()
    base(rebuild_base, mirror)
    took["base"] = time.monotonic() - t0
    say(f"base {BASE} ({took['base']:.0f} s)")
    for name in names:
        t0 = time.monotonic()
        image = ref(name, tag)
        with tempfile.TemporaryDirectory(prefix=f"trackerdcs-{name}-") as tmp:
            ctx = Path(tmp)
            _context(name, ctx)
            if name == "trackerdcs":
                wheelhouse(source or project_source(), ctx / "wheels")
            if name == "nodered":
                node_red(ctx / "app")
            _run(["podman", "build", "-q", "--build-arg", f"BASE={BASE}", "-t", image,
                  "-f", str(ctx / "Containerfile"), str(ctx)], 1800)  # fmt: skip
        took[name] = time.monotonic() - t0
        say(f"{image} ({took[name]:.0f} s, {image_size(image) / 1e6:.0f} MB)")
    return took


def have_tools() -> list[str]:
    """What is missing to build and run the pod here."""
    return [t for t in ("podman", "mmdebstrap", "npm") if shutil.which(t) is None]
