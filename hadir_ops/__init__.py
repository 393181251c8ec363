"""Operator tools: the `hadir` command (demo, CA and device provisioning, TPP what-ifs)."""
