"""Temperature/humidity sensors (ESP32 boards, Arduino DHT lines) and their dew point."""

from trackerdcs.core.registry import ENVIRONMENT, Family

FAMILY = Family(
    name="sensors",
    config="trackerdcs.sensors.config:SensorsConfig",
    service="trackerdcs.sensors.service:SensorsService",
    simulator=True,
    plain_simulator="trackerdcs.sensors.simulator:SensorSimulator",
    order=20,
    roles=frozenset({ENVIRONMENT}),
    ui={"panel": "sensors"},
)
