"""Hub tokens: checked with the Hub (``GET /api/whoami-v2``), then stored as huggingface_hub
stores them, so every Hugging Face tool on this machine uses them. Never logged."""

from __future__ import annotations

import logging
from typing import Any

from app.core.common.errors import HubError, HubUnavailable
from app.core.compat.hf_hub import store_token
from app.core.downloads.downloader import hub_endpoint

log = logging.getLogger("hearth.hub")


def check_token(token: str, endpoint: str | None = None) -> dict[str, Any]:
    """The Hub's account record for ``token`` (``GET /api/whoami-v2``), or a HubError a user can
    act on: not valid (401), or not checkable now (the Hub unreachable or failing)."""
    from huggingface_hub import HfApi

    token = token.strip()
    if not token or any(c.isspace() for c in token):
        raise HubError("Paste the whole token (it starts with hf_), without spaces.")
    if token.startswith("api_org"):
        raise HubError("That is an organisation token: use a token of your own account.")
    from app.core.hub.client import explain

    where = hub_endpoint(endpoint)
    try:
        who = HfApi(endpoint=where).whoami(token=token)
    except Exception as exc:  # noqa: BLE001 - decided below
        status = getattr(getattr(exc, "response", None), "status_code", 0)
        if status == 401:
            raise HubError(
                "The Hub says this token is not valid. Check that you copied all of "
                "it, or create a new one at huggingface.co/settings/tokens, then "
                "paste it here."
            ) from None
        error = explain(exc, "", where)
        reason = str(error) if error is not None else f"{type(exc).__name__}"
        log.info("Hub token not checked (%s); not saved", type(exc).__name__)
        raise HubUnavailable(
            f"The token could not be checked, so it was not saved: {reason}"
        ) from None
    if not isinstance(who, dict) or not who.get("name"):
        raise HubUnavailable(
            "The token could not be checked, so it was not saved: the Hub "
            "sent an answer Hearth cannot read. Try again later."
        )
    return who


def save_token(token: str, endpoint: str | None = None) -> str:
    """Check a Hub token with the Hub, then store it where huggingface_hub keeps it
    (``HF_HOME``: ``token`` and ``stored_tokens``, as ``huggingface_hub.login`` does), so every
    Hugging Face tool on this machine uses it. A token the Hub refuses, or one it cannot check
    now, is not stored (HubError). Returns the message to show. The token is never logged."""
    token = token.strip()
    who = check_token(token, endpoint)
    access = (who.get("auth") or {}).get("accessToken") or {}
    name = str(access.get("displayName") or f"hearth-{who['name']}")
    store_token(token, name)
    log.info("Hub token of %s saved", who["name"])
    return f"Token saved for the Hugging Face tools on this computer. Signed in as {who['name']}."
