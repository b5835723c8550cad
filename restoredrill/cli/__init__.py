"""The command line: one small module per command group; no logic beyond parse → call → render."""
