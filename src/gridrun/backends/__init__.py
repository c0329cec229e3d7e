"""Backends: where experiments' processes run."""
