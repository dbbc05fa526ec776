"""The local Synapse's admin API: users created with the shared registration secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from bot.devserver.config import DevServerError


def request(base_url: str, method: str, path: str,
            body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of one request; an error status is returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base_url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = {"error": raw.decode("utf8", "replace")}
        return err.code, payload


def register_user(base_url: str, shared_secret: str, localpart: str, password: str, *,
                  admin: bool = False) -> str | None:
    """Create a user; its user id, or None when the localpart is taken already."""
    status, payload = request(base_url, "GET", "/_synapse/admin/v1/register")
    if status != 200 or "nonce" not in payload:
        raise DevServerError(f"could not get a registration nonce: {status} {payload}")
    nonce = str(payload["nonce"])
    mac = hmac.new(shared_secret.encode("utf8"), digestmod=hashlib.sha1)
    for part in (nonce.encode("utf8"), localpart.encode("utf8"), password.encode("utf8")):
        mac.update(part)
        mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    status, payload = request(base_url, "POST", "/_synapse/admin/v1/register", {
        "nonce": nonce, "username": localpart, "password": password, "admin": admin,
        "mac": mac.hexdigest()})
    if status == 200:
        return str(payload["user_id"])
    if payload.get("errcode") == "M_USER_IN_USE":
        return None
    raise DevServerError(f"registering {localpart!r} failed: {status} {payload}")
