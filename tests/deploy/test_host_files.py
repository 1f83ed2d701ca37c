"""Files a stand names beside itself reach the pod: Ph2_ACF's hardware description and its
folder, the recipes — mounted read-only at their host paths, which the pod's and the host's
stand files then name. A Ph2_ACF section that cannot work from a container is refused by
`deploy kube` with what to change, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import stand_file, trackerdcs
from trackerdcs.config import load_stand
from trackerdcs.core.registry import NotInPod
from trackerdcs.deploy import pod

EXAMPLES = Path(__file__).parents[2] / "examples"


def _stand(tmp: Path, ph2acf: dict[str, object]) -> Path:
    path = stand_file(tmp, "files")
    data = yaml.safe_load(path.read_text())
    data["ph2acf"] = ph2acf
    data["runs"] = {"recipes": "recipes"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp / "recipes" / "burn-in.yaml").write_text("name: burn-in\nsteps: [{lv: on}]\n")
    (tmp / "PS_Module.xml").write_text("<HwDescription/>\n")
    return path


def _mounts(kube: dict, container: str) -> dict[str, tuple[str, bool]]:  # type: ignore[type-arg]
    vols = {v["name"]: v for v in kube["spec"]["volumes"]}
    spec = next(c for c in kube["spec"]["containers"] if c["name"] == container)
    return {m["mountPath"]: (vols[m["name"]]["hostPath"]["path"], m.get("readOnly", False))
            for m in spec["volumeMounts"] if "hostPath" in vols[m["name"]]}  # fmt: skip


def test_a_real_daq_s_files_and_the_recipes_are_mounted_where_the_stand_names_them(
    tmp_path: Path,
) -> None:
    daq = tmp_path / "Ph2_ACF"
    daq.mkdir()
    path = _stand(tmp_path, {"mode": "middleware", "middleware": "10.88.0.1:5000",
                             "hw_config": "PS_Module.xml", "workdir": str(daq)})  # fmt: skip
    stand = load_stand(path)
    out = pod.folder(stand)
    mounts = _mounts(pod.kube(stand, out), "runs")
    hw, recipes = tmp_path / "PS_Module.xml", tmp_path / "recipes"
    for host in (hw, recipes, daq):
        assert mounts[str(host)] == (str(host), True), host  # same path, read-only
    for tool in (pod.pod_stand(stand), pod.host_stand(stand, out)):
        assert tool["ph2acf"]["hw_config"] == str(hw)
        assert tool["ph2acf"]["workdir"] == str(daq)
        assert tool["runs"]["recipes"] == str(recipes)
    # the host's own tools read the same files through host.yaml, from the deployment folder
    host = load_stand(_written(out / "host.yaml", pod.host_stand(stand, out)))
    assert host.path(host.runs.recipes) == recipes
    assert host.path(host.ph2acf.hw_config) == hw


def _written(path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_daq_the_pod_cannot_reach_is_refused_with_what_to_change(tmp_path: Path) -> None:
    cases = {
        "batch": ({"mode": "batch", "hw_config": "PS_Module.xml"},
                  "ph2acf.mode: batch runs Ph2_ACF's program inside the runs container"),
        "loopback": ({"mode": "middleware", "middleware": "127.0.0.1:5000",
                      "hw_config": "PS_Module.xml"},
                     "ph2acf.middleware: 127.0.0.1:5000 is the pod itself"),
        "no hw": ({"mode": "middleware", "middleware": "daq.lab:5000", "hw_config": "nope.xml"},
                  "ph2acf.hw_config:"),
    }  # fmt: skip
    for name, (section, reason) in cases.items():
        tmp = tmp_path / name
        path = _stand(tmp, section)
        trackerdcs("secrets", "init", "-c", str(path))
        done = trackerdcs("deploy", "kube", "-c", str(path), check=False)
        assert done.returncode == 1, name
        assert reason in done.stderr and str(path) in done.stderr, (name, done.stderr)
        assert not (tmp / "production" / "kube.yaml").exists()  # nothing half-written


def test_serial_lines_a_container_cannot_reach_are_refused_with_what_to_give(
    tmp_path: Path,
) -> None:
    lyon = load_stand(EXAMPLES / "lyon.yaml")  # its simulated relay box is on a /tmp pty
    with pytest.raises(NotInPod) as exc:
        pod.host_files(lyon)
    assert "switchbox.port" in str(exc.value) and "socket://127.0.0.1:" in str(exc.value)
    path = _stand(tmp_path, {"simulate": True})
    data = yaml.safe_load(path.read_text())
    data["julabo"].update(simulate=False, port="/dev/ttyUSB0")  # the chiller on this host
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(NotInPod) as exc:
        pod.host_files(load_stand(path))
    assert "julabo.port: /dev/ttyUSB0 is not in the pod" in str(exc.value)
    assert "serial-bridge /dev/ttyUSB0" in str(exc.value) and "rfc2217://" in str(exc.value)
