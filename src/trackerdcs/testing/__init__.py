"""Helpers to run real parts (Mosquitto, a bus probe) in tests and benchmarks."""
