"""The I/O side of TPP: policy files, stored events as punches, `hadir tpp simulate`'s YAML files.

The rules themselves are pure and live in `hub.tpp`; this package reads what they need and hands it over
as plain data.
"""
