"""API Gateway's own answers, as the local AWS injects them."""

from __future__ import annotations

OUTAGE_MESSAGE = "An internal error occurred. Please try again later."
