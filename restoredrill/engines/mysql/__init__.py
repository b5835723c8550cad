"""Everything MariaDB / MySQL: session and catalog, fingerprint, diff and reapply SQL, binlog
replay, server tools, backup-configuration checks, the local and docker sandboxes, and the backup
formats (logical dumps, mariabackup, binlog archives)."""
