"""What of Ph2_ACF the runs service needs on the host, and when it cannot run in a pod.

In a container the runs service has no Ph2_ACF program (batch mode needs one beside it) and
its 127.0.0.1 is the pod's own; Ph2_ACF runs on the DAQ machine and is reached through its
RunController (middleware mode). The hardware description and the Ph2_ACF folder are read
where they are on the host (the RunController reads the same path it is told)."""

from __future__ import annotations

from trackerdcs.config.model import StandBase
from trackerdcs.core.registry import HostFile, NotInPod
from trackerdcs.ph2acf.config import Ph2acfConfig

LOOPBACK = ("", "127.0.0.1", "localhost", "::1", "[::1]")


def host_files(section: Ph2acfConfig, stand: StandBase) -> list[HostFile]:
    files = []
    hw = stand.path(section.hw_config).resolve()
    if hw.is_file():
        files.append(HostFile("hw_config", hw))
    if section.simulate:
        return files
    if section.mode == "batch":
        raise NotInPod(
            "ph2acf.mode: batch runs Ph2_ACF's program inside the runs container, which has "
            "none: use mode: middleware with the DAQ machine's RunController address"
        )
    if section.middleware.rpartition(":")[0] in LOOPBACK:
        raise NotInPod(
            f"ph2acf.middleware: {section.middleware} is the pod itself: give the DAQ "
            "machine's address (this host, seen from the pod, is the podman network's "
            "gateway, e.g. 10.88.0.1)"
        )
    if not hw.is_file():
        raise NotInPod(f"ph2acf.hw_config: {hw} not found")
    if section.workdir.is_absolute():  # Ph2_ACF's own folder: RunNumbers.dat, Results/
        if not section.workdir.is_dir():
            raise NotInPod(f"ph2acf.workdir: {section.workdir} not found")
        files.append(HostFile("workdir", section.workdir, folder=True))
    return files
