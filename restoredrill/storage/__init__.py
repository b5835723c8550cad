"""Where backup bytes live (a local directory, S3) and reading them (decompression)."""
