"""The production deployment: images, the pod, secrets, Grafana, Node-RED, backups. It runs
no service of its own; its stand-file section says how the pod is laid out."""

from trackerdcs.core.registry import Family

FAMILY = Family(name="deploy", config="trackerdcs.deploy.config:DeployConfig", order=99)
