"""`restoredrill demo`: the classic incident rehearsed end to end on this machine, per engine."""
