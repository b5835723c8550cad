"""Use cases: plan, restore, verify, diff, reapply, run. No printing, no typer."""
