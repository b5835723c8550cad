"""Backup-configuration checks for CI (``restoredrill check``): a small registry of rules per
engine (registry.py), fed with facts read live from a server or offline from files."""
