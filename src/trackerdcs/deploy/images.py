"""`trackerdcs deploy build`: every image of the pod, from local material only.

No image registry is needed: the base is Debian bookworm made by `mmdebstrap` and imported;
Mosquitto, InfluxDB and Node.js come from Debian's packages inside `podman build`; Python
wheels are fetched on the host for the image's Python (3.11) and installed with
`--no-index`; Node-RED and its dashboard are installed with npm on the host and copied in.
Grafana is the one public image (pulled by `deploy up` where a registry is reachable).
"""

from __future__ import annotations

import hashlib
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


def _run(argv: list[str], timeout: float, level: int = logging.INFO, **kw: object) -> str:
    log.log(level, "$ %s", " ".join(argv))
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
    out = _run(["podman", "image", "inspect", "--format", "{{.Size}}", ref], 30, logging.DEBUG)
    return int(out.strip())


# an image's inputs, as a digest in a label: an image whose label matches what would go into
# it now is current and reused (a cold build takes minutes, a warm check a second)
INPUTS = "org.trackerdcs.inputs"


def label(ref: str) -> str | None:
    """The image's inputs digest (None: no such image, or built without one)."""
    r = subprocess.run(["podman", "image", "inspect", "--format",
                        f'{{{{index .Labels "{INPUTS}"}}}}', ref],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    value = r.stdout.strip()
    return value if r.returncode == 0 and value and value != "<no value>" else None


def image_id(ref: str) -> str:
    return _run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", ref], 30, logging.DEBUG
    ).strip()


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:32]


def _base_argv(mirror: str | None, tar: Path) -> list[str]:
    excludes = [f"--dpkgopt=path-exclude=/usr/share/{p}/*" for p in ("doc", "man", "info")]
    return ["mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
            *excludes, "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "bookworm", str(tar), *([mirror] if mirror else [])]  # fmt: skip


def base_inputs(mirror: str | None) -> str:
    return _digest("base", *_base_argv(mirror, Path("base.tar")))


def base(rebuild: bool = False, mirror: str | None = None) -> bool:
    """Make the Debian base unless a current one exists; True if it was made."""
    want = base_inputs(mirror)
    if not rebuild and label(BASE) == want:
        return False
    with tempfile.TemporaryDirectory(prefix="trackerdcs-base-") as tmp:
        tar = Path(tmp) / "base.tar"
        _run(_base_argv(mirror, tar), 900)
        _run(["podman", "import", "--change", 'CMD ["/bin/bash"]',
              "--change", f"LABEL {INPUTS}={want}", str(tar), BASE], 300)  # fmt: skip
    return True


def _context_files(name: str) -> list[tuple[str, bytes]]:
    src = resources.files("trackerdcs.deploy") / "images" / name
    return sorted((i.name, i.read_bytes()) for i in src.iterdir() if i.is_file())


def source_files(source: Path) -> list[tuple[str, bytes]]:
    """What trackerdcs's wheel is made of: the package and the project's metadata (the
    README, its long description, is left out: a change of words changes no behaviour)."""
    files = [source / "pyproject.toml"]
    files += [f for f in (source / "src" / "trackerdcs").rglob("*")
              if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]  # fmt: skip
    return sorted((str(f.relative_to(source)), f.read_bytes()) for f in files if f.exists())


def inputs(name: str, source: Path | None) -> str:
    """The digest of everything that goes into image `name` (its base included)."""
    parts: list[bytes | str] = [name, image_id(BASE)]
    for fname, data in _context_files(name):
        parts += [fname, data]
    if name == "trackerdcs":
        for fname, data in source_files(source or project_source()):
            parts += [fname, data]
        parts.append(PYTHON)
    if name == "nodered":
        parts += list(NODE_PACKAGES)
    return _digest(*parts)


def stale(names: list[str], tag: str, source: Path | None = None) -> list[str]:
    """Those of `names` whose image is missing or was built from other inputs."""
    if label(BASE) is None:
        return ["base", *names]
    return [n for n in names if label(ref(n, tag)) != inputs(n, source)]


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
    """trackerdcs's wheel (in `app/`) and every dependency (in `deps/`), as wheels for the
    image's Python: apart, so that the dependencies' layer is reused when only the code
    changed."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    app, deps = into / "app", into / "deps"
    _run([*pip, "wheel", "--no-deps", "-w", str(app), str(source)], 600)
    wheel = next(app.glob("trackerdcs-*.whl"))
    arch = platform.machine()
    plats = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 31, 28, 27, 26, 17, 12, 5)]
    plats += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    _run([*pip, "download", "--only-binary=:all:", "--python-version", PYTHON,
          "--implementation", "cp", *[a for p in plats for a in ("--platform", p)],
          "-d", str(deps), str(wheel)], 900)  # fmt: skip
    for copy in deps.glob("trackerdcs-*.whl"):
        copy.unlink()


def node_red(into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    (into / "package.json").write_text('{"name": "trackerdcs-nodered", "private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--omit=dev",
          *NODE_PACKAGES], 900, cwd=str(into))  # fmt: skip


def build(
    names: list[str],
    tag: str,
    source: Path | None = None,
    rebuild_base: bool = False,
    mirror: str | None = None,
    say: Callable[[str], None] = print,
    rebuild: bool = False,
) -> dict[str, float]:
    """Build `names`, reusing each image whose inputs are unchanged (unless `rebuild`);
    returns seconds per image. Says what it does before each step: a cold build takes
    minutes (the base a minute, Node-RED's npm install another)."""
    took: dict[str, float] = {}
    t0 = time.monotonic()
    if label(BASE) != base_inputs(mirror) or rebuild_base:
        say(f"base {BASE}: mmdebstrap bookworm (about a minute) …")
    made = base(rebuild_base, mirror)
    took["base"] = time.monotonic() - t0
    say(f"base {BASE} ({'made' if made else 'current, reused'}, {took['base']:.0f} s)")
    for name in names:
        t0 = time.monotonic()
        image = ref(name, tag)
        want = inputs(name, source)
        if not rebuild and label(image) == want:
            took[name] = time.monotonic() - t0
            say(f"{image} (current, reused)")
            continue
        say(f"{image}: building …")
        with tempfile.TemporaryDirectory(prefix=f"trackerdcs-{name}-") as tmp:
            ctx = Path(tmp)
            for fname, data in _context_files(name):
                (ctx / fname).write_bytes(data)
            if name == "trackerdcs":
                wheelhouse(source or project_source(), ctx / "wheels")
            if name == "nodered":
                node_red(ctx / "app")
            _run(["podman", "build", "-q", "--build-arg", f"BASE={BASE}", "-t", image,
                  "--label", f"{INPUTS}={want}",
                  "-f", str(ctx / "Containerfile"), str(ctx)], 1800)  # fmt: skip
        took[name] = time.monotonic() - t0
        say(f"{image} (built, {took[name]:.0f} s, {image_size(image) / 1e6:.0f} MB)")
    return took


def have_tools() -> list[str]:
    """What is missing to build and run the pod here."""
    return [t for t in ("podman", "mmdebstrap", "npm") if shutil.which(t) is None]
