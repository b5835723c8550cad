"""restoredrill: rehearse database point-in-time recovery before the real incident."""

__version__ = "0.1.0"
