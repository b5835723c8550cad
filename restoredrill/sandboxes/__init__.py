"""Throwaway database instances. Every backend yields a running, labelled instance from a
context manager and always tears it down; leftovers of killed runs are found by label."""
