"""In a pod the chiller's serial line must be a URL the service's container can reach."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core.registry import HostFile, serial_port_in_pod
from trackerdcs.julabo.config import JulaboConfig


def host_files(section: JulaboConfig, stand: StandBase) -> list[HostFile]:
    serial_port_in_pod("julabo.port", section.port, section.simulate)
    return []
