"""Generated deployment material: Telegraf, Grafana, Mosquitto, podman."""
