"""Web UI and REST/WebSocket API."""
