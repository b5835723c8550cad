"""Where backups live. A source lists base backups and log segments and fetches them."""
