"""Database engines: dialect (quoting, keys, row hashing SQL) and restore mechanics.

The use cases reach an engine through the role protocols of ``base.py``; ``registry.py`` names
the class behind each engine name and DSN scheme. Adding an engine is adding a package here
whose engine class implements ``base.Engine``, and one line in ``registry.ENGINES``."""
