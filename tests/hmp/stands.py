"""Stand-file pieces the cross-supply tests share."""

from __future__ import annotations

from trackerdcs.testing.mosquitto import free_port


def hv_caen_and_hmp(modules: int, prefix: str, watchdog: str = "null", hmp_port: int = 0,
                    caen_extra: str = "", hmp_extra: str = "") -> str:  # fmt: skip
    """A simulated CAEN giving modules M1..Mn their HV only (board 12, 40 V at 100 V/s up,
    40 V/s down) and a simulated HMP4040 giving their LV (outputs 1..n, 10.5 V, OVP 11.5 V).
    `watchdog`: both services' timeout; `*_extra`: more lines of each section."""
    channels = "\n".join(f"    {i}: {{module: M{i}, hv: {{board: 12, chan: {i - 1}}}}}"
                         for i in range(1, modules + 1))  # fmt: skip
    outputs = "\n".join(f"    {i}: {{module: M{i}, voltage: 10.5, current: 2.5, ovp: 11.5}}"
                        for i in range(1, modules + 1))  # fmt: skip
    return f"""
caen:
  simulate: true
  prefix: {prefix}
  ca_server_port: {free_port()}
  watchdog: {{timeout: {watchdog}}}
  global:
    hv: {{V0Set: 40.0, I0Set: 100.0, RUp: 100.0, RDWn: 40.0, PDwn: Ramp}}
{caen_extra}  channels:
{channels}
hmp:
  simulate: true
  port: {hmp_port or free_port()}
  poll: 0.2
  watchdog: {{timeout: {watchdog}}}
{hmp_extra}  channels:
{outputs}
"""
