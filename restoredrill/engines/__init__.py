"""Database engines: dialect (quoting, keys, row hashing SQL) and restore mechanics."""
