"""A proxy between the bot and the homeserver that can lose responses.

Everything is passed through as it is, except the requests a test chose to lose the answer
of: the proxy forwards such a request, waits until the homeserver has answered (so the
homeserver has done what was asked, e.g. stored the message), then cuts the bot's connection
instead of passing the answer on — the bot never hears that its message went through.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

# headers that belong to one hop, not to the request
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
       "content-encoding"}
SEND = re.compile(r"/_matrix/client/v3/rooms/[^/]+/send/(?P<type>[^/]+)/(?P<txn>[^/?]+)")


@dataclass
class Passed:
    method: str
    path: str
    status: int | None  # None: the answer was lost, on purpose or as the homeserver was down
    reached: bool = True  # the homeserver got the request (False: it was down)


@dataclass
class LosingProxy:
    upstream: str
    log: list[Passed] = field(default_factory=list)
    # requests whose answers are lost: a test arms it with `lose_answers`
    _lose: Callable[[str, str], bool] = lambda method, path: False
    _left: int = 0
    lost: list[str] = field(default_factory=list)  # paths whose answers were lost

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        # first the upstream side: a long-polling sync still held by the homeserver ends at
        # once, instead of holding the proxy's shutdown for its 30 s
        await self._session.close()
        await self._runner.cleanup()

    def lose_answers(self, match: Callable[[str, str], bool], times: int = 1) -> None:
        """Lose the answers of the next `times` requests for which match(method, path)."""
        self._lose, self._left = match, times

    def sends(self, event_type: str = "m.room.encrypted") -> list[str]:
        """Transaction ids of the sends of `event_type` that reached the homeserver, in
        order, repeated when a send was repeated."""
        out = []
        for passed in self.log:
            m = SEND.search(passed.path)
            if passed.reached and passed.method == "PUT" and m and m["type"] == event_type:
                out.append(m["txn"])
        return out

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path_qs
        lose = self._left > 0 and self._lose(request.method, request.path)
        if lose:
            self._left -= 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        try:
            async with self._session.request(request.method, self.upstream + path,
                                             headers=headers, data=body or None,
                                             allow_redirects=False) as up:
                answer = await up.read()
                status = up.status
                up_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
        except aiohttp.ClientError:
            # the homeserver is down: the bot sees what it would see without a proxy
            self.log.append(Passed(request.method, path, None, reached=False))
            request.transport.abort()
            raise web.HTTPBadGateway() from None
        self.log.append(Passed(request.method, path, None if lose else status))
        if lose:
            self.lost.append(request.path)
            request.transport.abort()  # the homeserver did it; the bot never hears
            await asyncio.sleep(0)
            raise web.HTTPBadGateway()
        return web.Response(status=status, body=answer, headers=up_headers)
