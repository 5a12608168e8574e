"""HTTP-shaped messages: :class:`Request` and :class:`Response`.

They mirror the Fetch API objects a Worker sees, reduced to what a simulation needs: a URL,
a method, headers (case-insensitive), and a body of text, bytes or JSON-able data. A response
with status 101 may carry the client end of a WebSocket pair.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ['Headers', 'Request', 'Response']

Body = str | bytes | None
_METHODS = frozenset({'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'})


class Headers(dict):
    """Header names are case-insensitive: they are stored lower-cased."""

    def __init__(self, init: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        super().__init__()
        if init is None:
            return
        items = init.items() if isinstance(init, Mapping) else init
        for key, value in items:
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str):
            raise TypeError(f'header names must be strings, got {key!r}')
        super().__setitem__(key.lower(), str(value))

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def _encode_body(body: Any, headers: Headers) -> Body:
    if body is None or isinstance(body, (str, bytes)):
        return body
    if isinstance(body, (dict, list, int, float, bool)):
        headers.setdefault('content-type', 'application/json')
        return _json.dumps(body)
    raise TypeError(
        f'body must be str, bytes, None or JSON-able data (dict, list), got {type(body).__name__}'
    )


class _Message:
    __slots__ = ('_headers', 'body')

    body: Body

    @property
    def headers(self) -> Headers:
        """The headers (made on first use: most simulated messages carry none)."""
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    def _init_body(self, body: Any, headers: Mapping[str, str] | None) -> None:
        self._headers = Headers(headers) if headers else None
        if body is None or isinstance(body, (str, bytes)):
            self.body = body
        else:
            self.body = _encode_body(body, self.headers)

    @property
    def text(self) -> str:
        """The body as text (UTF-8), ``''`` for no body."""
        if self.body is None:
            return ''
        if isinstance(self.body, bytes):
            return self.body.decode('utf-8')
        return self.body

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.text)


class Request(_Message):
    """An HTTP request to an object: ``Request(url, method="GET", headers=None, body=None)``."""

    __slots__ = ('method', 'url')

    def __init__(
        self,
        url: str,
        method: str = 'GET',
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f'url must be a string, got {url!r}')
        if not isinstance(method, str) or not method:
            raise TypeError(f'method must be a non-empty string, got {method!r}')
        self.url = url
        self.method = method if method in _METHODS else method.upper()
        self._init_body(body, headers)

    @property
    def path(self) -> str:
        """The URL's path, e.g. ``'/inc'`` for ``'https://do/inc?x=1'``."""
        rest = self.url.split('://', 1)[-1]
        slash = rest.find('/')
        path = rest[slash:] if slash >= 0 else '/'
        return path.split('?', 1)[0].split('#', 1)[0]

    def __repr__(self) -> str:
        return f'Request({self.method} {self.url})'


class Response(_Message):
    """An HTTP response: ``Response(body=None, status=200, headers=None, web_socket=None)``."""

    __slots__ = ('status', 'web_socket')

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        web_socket: Any = None,
    ) -> None:
        if type(status) is not int or not 101 < status <= 599:   # (the common case first)
            if isinstance(status, bool) or not isinstance(status, int) or \
                    not 101 <= status <= 599:
                raise ValueError(f'status must be an int from 101 to 599, got {status!r}')
            if status == 101 and web_socket is None:
                raise ValueError('a status 101 response needs web_socket=<the client end>')
        self.status = status
        if headers is None and (body is None or type(body) is str):
            # self._init_body(body, None), written out: a response is made per request
            self._headers = None
            self.body = body
        else:
            self._init_body(body, headers)
        self.web_socket = web_socket

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        text = self.text
        shown = text if len(text) <= 40 else text[:37] + '...'
        return f'Response({self.status}, {shown!r})'
