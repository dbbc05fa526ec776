"""A file a message carries, uploaded to the homeserver's media store when it is sent:
encrypted for an encrypted room (the keys go in the message), as is otherwise."""

from __future__ import annotations

from nio import AsyncClient, UploadResponse

from bot.outgoing import SendFailed


async def upload(client: AsyncClient, room_id: str, content: dict, data: bytes) -> dict:
    """`content` (an `m.file`) with the uploaded file's location (and keys)."""
    room = client.rooms.get(room_id)
    encrypted = bool(room and room.encrypted)
    resp, keys = await client.upload(
        lambda *_: data, content_type=content.get("info", {}).get("mimetype",
                                                                 "application/octet-stream"),
        filename=content.get("filename", content.get("body", "file")), encrypt=encrypted,
        filesize=len(data))
    if not isinstance(resp, UploadResponse):
        raise SendFailed(getattr(resp, "status_code", None), "upload failed")
    content = dict(content)
    if encrypted:
        content["file"] = {"url": resp.content_uri, **keys}
    else:
        content["url"] = resp.content_uri
    return content
