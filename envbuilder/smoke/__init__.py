"""Smoke checks: concurrent checks with deadlines that say why they failed, not just "timeout"."""
