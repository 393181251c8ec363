"""Test kit: synthetic walk-past and attack generators, local Mosquitto/InfluxDB/gpsd launchers.

Repository-only: used by tests, benchmarks and the demo, never installed on a device or hub.
"""
