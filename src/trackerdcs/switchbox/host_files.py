"""In a pod the relay box's serial line must be a URL the service's container can reach."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core.registry import HostFile, serial_port_in_pod
from trackerdcs.switchbox.config import SwitchboxConfig


def host_files(section: SwitchboxConfig, stand: StandBase) -> list[HostFile]:
    serial_port_in_pod("switchbox.port", section.port, section.simulate)
    return []
