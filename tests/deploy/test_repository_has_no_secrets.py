"""Issue 17: nothing secret is in the repository, and what `secrets init`, `deploy kube`,
`backup` and the demo write is git-ignored. Scans every tracked file as `git grep` would."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]

PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password or token": re.compile(
        r"""(?i)\b(passw(or)?d|passwd|secret|token|api[_-]?key)['"]?\s*[:=]\s*"""
        r"""['"]([^'"\s{}$<>/]{6,})['"]"""
    ),
    "service token": re.compile(
        r"\b(ghp_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abp]-[A-Za-z0-9-]{10,}"
        r"|AKIA[0-9A-Z]{16})\b"
    ),
    "password hash": re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"),
}
SECRET_NAMES = re.compile(r"(\.pem|\.key|\.password|\.p12|id_rsa|id_ed25519|credential_secret)$")
# said on purpose: a role's name tried as its password must be refused
DELIBERATE = {("tests/deploy/test_pod.py", "operator")}


def _tracked() -> list[str]:
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60, check=True)  # fmt: skip
    return r.stdout.split()


def test_no_password_token_or_private_key_is_tracked() -> None:
    files = _tracked()
    assert len(files) > 100
    found = []
    for name in files:
        assert not SECRET_NAMES.search(name), f"{name}: a secret's file name is tracked"
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        for what, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                value = m.group(m.lastindex or 0)
                if (name, value) not in DELIBERATE:
                    line = text.count("\n", 0, m.start()) + 1
                    found.append(f"{name}:{line}: {what}: {m.group(0)[:80]}")
    assert not found, "\n".join(found)


def test_the_patterns_find_what_they_are_for() -> None:
    # built here so that this file does not hold what it looks for
    leaks = ["pass" + 'word: "hunter2-hunter2"', "tok" + "en = 'abcdef0123456789abcdef'",
             "-----BEGIN EC PRIVATE" + " KEY-----", "key ghp_" + "a" * 30,
             "$2b$12$" + "x" * 53]  # fmt: skip
    for leak in leaks:
        assert any(p.search(leak) for p in PATTERNS.values()), leak
    for harmless in ['SECRET = "/run/secrets/trackerdcs/influx/grafana.password"',
                     "password: ${INFLUX_PASSWORD}", 'password=pod.secret("x")']:  # fmt: skip
        assert not any(p.search(harmless) for p in PATTERNS.values()), harmless


def test_what_the_tools_write_is_ignored() -> None:
    generated = ["production/secrets/mqtt/admin.password", "production/kube.yaml",
                 "examples/production/secrets/tls/ca.key", "backups/demo-20261126.tar.gz",
                 "trackerdcs-demo/users.yaml", "artifacts/screens/overview.png"]  # fmt: skip
    r = subprocess.run(["git", "check-ignore", "--no-index", *generated], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert sorted(r.stdout.split()) == sorted(generated)
