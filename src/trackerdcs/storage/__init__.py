"""Historian (SQLite, InfluxDB) and the recorder service."""
