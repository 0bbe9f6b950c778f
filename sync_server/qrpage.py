"""The QR phone rating page (``GET/POST /r/{token}``)."""

from __future__ import annotations

from fastapi import APIRouter


def qr_router() -> APIRouter:
    return APIRouter()
