"""The base of every model: frozen, no unknown fields, computed fields accepted back."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: object) -> object:
        """Computed fields are written out (readers of the JSON want them) and recomputed on
        reading: accept them back, so every document restoredrill writes, it can read."""
        if not isinstance(data, dict):
            return data
        drop = set(cls.model_computed_fields)
        # The CLI names every document it prints ({"format": "restoredrill-plan/1", ...}),
        # also those whose model has no format field of its own.
        name = data.get("format")
        if "format" not in cls.model_fields and str(name).startswith("restoredrill-"):
            drop.add("format")
        if drop & data.keys():
            return {k: v for k, v in data.items() if k not in drop}
        return data
