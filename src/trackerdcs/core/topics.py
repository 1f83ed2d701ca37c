"""Topic names of the bus contract, in one place."""

from __future__ import annotations


def online(service: str) -> str:
    return f"{service}/online"


def reply(service: str) -> str:
    return f"{service}/reply"


def cmd(service: str, command: str = "#") -> str:
    return f"{service}/cmd/{command}"


def alarm(name: str) -> str:
    return f"alarms/{name}"


def matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard match (`+` one level, `#` the rest)."""
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return True
        if i >= len(t_parts):
            return False
        if p != "+" and p != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)


def wildcard_args(pattern: str, topic: str) -> tuple[str, ...]:
    """The topic levels that matched `+`/`#` in pattern, in order."""
    out: list[str] = []
    t_parts = topic.split("/")
    for i, p in enumerate(pattern.split("/")):
        if p == "+":
            out.append(t_parts[i])
        elif p == "#":
            out.append("/".join(t_parts[i:]))
            break
    return tuple(out)
