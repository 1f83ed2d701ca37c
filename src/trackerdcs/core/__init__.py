"""The kernel every service stands on: one asyncio loop per process, the MQTT bus, declared
commands with replies, alarms, typed signals, devices and procedures, payload contracts and
the family registry."""
