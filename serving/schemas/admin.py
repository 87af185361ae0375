"""API keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
)

from serving.keys import KEY_NAME_MAX
from serving.schemas.fields import TEXT_CHECK, StrictBody

__all__ = ["AuditEntry", "KeyCreateIn", "KeyCreatedOut", "KeyOut"]

class KeyCreateIn(StrictBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=KEY_NAME_MAX), TEXT_CHECK]
    role: Literal["erp", "planner", "admin"]


class KeyOut(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str | None = Field(description="the key itself: shown this once, store it now; null "
                            "when this answer is a replay (header `Idempotent-Replayed: "
                            "true`): the key was created by the first request and is never "
                            "shown again")
    note: str | None = Field(default=None, description="on a replay: that the key was "
                             "already created, and what to do if it was lost")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    action: str | None
    object_id: str | None
    detail: dict[str, object] | None
