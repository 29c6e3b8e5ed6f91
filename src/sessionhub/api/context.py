"""What the API hands the engine about the client behind a request."""

from __future__ import annotations

from fastapi import Request

from sessionhub.api.auth import get_engine
from sessionhub.enrich.client import ClientInfo, client_info


def client_of(request: Request) -> ClientInfo:
    """The client's IP (behind trusted proxies only), User-Agent and CDN country."""
    engine = get_engine(request)
    peer = request.client.host if request.client else None
    return client_info(
        peer, request.headers, engine.trusted_proxies, engine.settings.country_header
    )
