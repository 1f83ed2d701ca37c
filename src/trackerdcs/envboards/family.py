"""Environment boards on MQTT: every chip channel of an ESP32 board as one reading."""

from trackerdcs.core.registry import ENVIRONMENT, Family

FAMILY = Family(
    name="envboards",
    config="trackerdcs.envboards.config:EnvBoardsConfig",
    service="trackerdcs.envboards.service:EnvBoardsService",
    simulator=True,
    plain_simulator="trackerdcs.envboards.simulator:EnvBoardsSimulator",
    order=25,
    roles=frozenset({ENVIRONMENT}),
    ui={"panel": "environment"},
)
