"""Interlocks, alarms and notifications, independent of the UI."""
