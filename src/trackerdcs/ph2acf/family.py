"""Ph2_ACF, the CMS Phase-2 DAQ: run by the runs service (batch program or middleware)."""

from trackerdcs.core.registry import Family

FAMILY = Family(
    name="ph2acf",
    config="trackerdcs.ph2acf.config:Ph2acfConfig",
    host_files="trackerdcs.ph2acf.host_files:host_files",
    simulator=True,  # `simulate: true`: the simulated RunController beside the stand
    relocate="trackerdcs.ph2acf.testing:relocate",
    order=15,
)
