"""Shared base for the engine's typed, immutable results."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """An immutable result: attributes cannot be reassigned after construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")
