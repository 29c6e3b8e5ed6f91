"""The parameters routes share: path ids, paging, and who may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from sessionhub.api.auth import admin_key, app_key, secret_key
from sessionhub.core.apps import Caller

SessionPath = Annotated[str, Path(description="The session id.", max_length=200)]
UserPath = Annotated[str, Path(description="The user id your app gave.", max_length=200)]
DevicePath = Annotated[str, Path(description="The device id or fingerprint hash.", max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page.")
]

SecretCaller = Annotated[Caller, Depends(secret_key)]
AppCaller = Annotated[Caller, Depends(app_key)]
AdminCaller = Annotated[Caller, Depends(admin_key)]
