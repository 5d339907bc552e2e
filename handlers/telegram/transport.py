"""The bot's HTTP transport to the Bot API: python-telegram-bot's `BaseRequest` over aiohttp.

PTB's default transport (httpx) costs about 1.6 ms of CPU per Bot API call; the same call over
aiohttp costs about 0.5 ms (measured against the emulator on loopback, bench/telegram.py). The
bot makes at least one call per update it answers, so this is most of the CPU a form step
spends beyond its database write. PTB keeps everything above the transport (parameters,
defaults, errors from the API's answers); this only moves bytes and maps failures to the
exceptions PTB raises for httpx: `TimedOut` for every timeout, `NetworkError` for the rest.
aiohttp is already the web server's and Slack's client library.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import aiohttp
import yarl
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_Proxy = tuple[yarl.URL | None, dict[str, str] | None]  # the proxy, and headers for it
_JSON = {"Content-Type": "application/json"}


def _chosen(value: Any, default: float | None) -> float | None:
    """A timeout given to one call, or the transport's own when the call left it default."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """Timeouts mean what they mean for PTB's `HTTPXRequest` (same defaults): `connect` and
    `pool` bound getting a connection, `read` bounds the wait for the answer; aiohttp has no
    separate write timeout, so the sum of all four bounds the whole call."""

    def __init__(self, connection_pool_size: int = 1, *, connect_timeout: float | None = 5.0,
                 read_timeout: float | None = 5.0, write_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0,
                 media_write_timeout: float | None = 20.0) -> None:
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str | None, int | None], _Proxy] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Not trust_env: with it aiohttp reads ~/.netrc and the proxy variables on every
            # call, each in a worker thread (two thread hops and two wake-ups of the loop per
            # call, two fifths of a form step's CPU). The proxy is read once per host instead
            # (`_proxy_for`), as httpx (PTB's default) honours it.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT})
            self._proxies.clear()

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _chosen(read_timeout, self._read_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        pool = _chosen(pool_timeout, self._pool_timeout)
        write = _chosen(write_timeout, self._media_write_timeout if files
                        else self._write_timeout)
        parts = (read, connect, pool, write)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts),  # type: ignore[arg-type]
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect, sock_read=read)
        body: Any = None
        headers = None
        if request_data and not files:
            # As JSON (the Bot API takes it, nested objects as objects): encoding a form
            # field by field cost about a tenth of a form step's CPU.
            body, headers = request_data.json_payload, _JSON
        elif request_data and files:
            body = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        try:
            proxy, proxy_headers = self._proxy_for(url)
            if proxy_headers and url.startswith("http:"):
                # Plain HTTP goes to the proxy as the request itself (no CONNECT tunnel, which
                # is where aiohttp sends proxy_headers): it carries the credentials.
                headers = {**(headers or {}), **proxy_headers}
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout, proxy=proxy,
                                             proxy_headers=proxy_headers) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as error:  # aiohttp's timeouts are TimeoutErrors
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _proxy_for(self, url: str) -> _Proxy:
        """The proxy the environment (HTTPS_PROXY, NO_PROXY, …) names for this URL's host, read
        the first time the host is called."""
        target = yarl.URL(url)
        key = (target.scheme, target.host, target.port)
        if key not in self._proxies:
            self._proxies[key] = _environment_proxy(target)
        return self._proxies[key]


def _environment_proxy(target: yarl.URL) -> _Proxy:
    """The standard library's reading of the proxy variables (as httpx and requests honour
    them); credentials in the proxy's URL go to the proxy as its Proxy-Authorization."""
    named = urllib.request.getproxies().get(target.scheme or "")
    if not named or urllib.request.proxy_bypass(target.raw_host or ""):
        return None, None
    proxy = yarl.URL(named)
    auth = aiohttp.BasicAuth.from_url(proxy)
    if auth is None:
        return proxy, None
    return proxy.with_user(None), {"Proxy-Authorization": auth.encode()}
