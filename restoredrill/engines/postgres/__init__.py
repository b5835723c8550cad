"""Everything PostgreSQL: session and catalog, fingerprint, diff and reapply SQL, recovery
mechanics, server tools, backup-configuration checks, the local sandbox, and the backup formats
(pg_basebackup + WAL archive, pgBackRest)."""
