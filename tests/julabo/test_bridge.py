"""The RFC 2217 bridge gives the line to the newest client: a client that vanished without
closing (a restarted container, a cut cable) must not keep the chiller from the service that
comes back. Real parts: the Julabo simulator on a pty, `trackerdcs serial-bridge`, pyserial's
RFC 2217 client as the service uses it."""

from __future__ import annotations

import socket
from pathlib import Path

from trackerdcs.config import load_stand
from trackerdcs.julabo.testing import bridge, sim_pty
from trackerdcs.julabo.transport import Julabo
from trackerdcs.testing.mosquitto import free_port

STAND = """
julabo:
  port: rfc2217://127.0.0.1:{port}
  timeout: 2.0
  setpoint_min: -30
  setpoint_max: 30
"""


def test_a_client_that_vanished_does_not_keep_the_line(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "stand.yaml"
    path.write_text(STAND.format(port=port))
    cfg = load_stand(path).julabo
    assert cfg is not None
    link = tmp_path / "ttyJULABO"
    sim = sim_pty(path, link, tmp_path / "sim.log")
    br = bridge(link, port, tmp_path / "bridge.log")
    gone = socket.create_connection(("127.0.0.1", port), 5)  # connects, then says nothing
    chiller = Julabo(cfg)
    try:
        chiller.open()  # RFC 2217 negotiation: answered only if the line is given to us
        assert float(chiller.query("IN_PV_00")) > -100  # the bath temperature, read through
        # the vanished client has lost the line: after the bridge's own negotiation bytes,
        # end of stream (a TimeoutError here would mean it still holds the line)
        gone.settimeout(5)
        while gone.recv(4096):
            pass
    finally:
        chiller.close()
        gone.close()
        br.stop()
        sim.stop()
