"""HTTP to a Label Studio server with the standard library only (urllib; no SDK, so the runtime
package stays numpy-only): the API token, JSON requests, and one clear error per failure.

The token comes from an argument or LABEL_STUDIO_API_KEY (the official SDK's variable). Label Studio
has two kinds, and both work: a personal access token (a JWT; exchanged once per client for a
short-lived access token at /api/token/refresh/, as the SDK does) and a legacy token (sent as
`Authorization: Token ...`; the server accepts it only when legacy tokens are enabled, e.g.
`label-studio start --enable-legacy-api-token`).
"""
from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
TIMEOUT_S = 120  # a sync import or export of a few thousand tasks takes seconds; a dead server, the timeout


class LabelStudioError(ValueError):
    """Label Studio refused or failed a request; the message is one line meant for the terminal."""


class LabelStudioUnreachable(LabelStudioError):
    """No HTTP answer at the URL (connection refused, unknown host, timeout)."""


class LabelStudioAuthError(LabelStudioError):
    """The server answered 401 or 403: the token is missing, wrong, or not allowed."""


class LabelStudioNotFound(LabelStudioError):
    """The server answered 404 (a project or storage that does not exist)."""


def _is_jwt(token: str) -> bool:
    """Personal access tokens are JWTs: three base64url parts joined by dots (legacy tokens are hex)."""
    return token.count(".") == 2 and token.startswith("eyJ")


def _detail(body: bytes) -> str:
    """The server's own reason from an error body ({"detail": ...} or a validation dict), one line."""
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        text = body.decode("utf-8", errors="replace").strip()
        return " ".join(text.split())[:200]
    if isinstance(data, dict):
        if "detail" in data:
            return str(data["detail"])
        if "validation_errors" in data:
            data = data["validation_errors"]
    return " ".join(json.dumps(data).split())[:400]


class Client:
    """One Label Studio server and token. Methods return the decoded JSON answer or raise a
    LabelStudioError subclass whose message names the URL and the server's reason."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = TIMEOUT_S):
        url = (url or "").strip()
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LabelStudioError(f"--label-studio-url must be an http:// or https:// URL, got {url!r}")
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        token = token.strip()
        if not token:
            raise LabelStudioAuthError(
                f"no Label Studio API token: set {TOKEN_ENV} to your token (Label Studio: Account & Settings)")
        self._token = token
        self._auth_header: Optional[str] = None
        self.timeout = timeout

    # -- authentication ---------------------------------------------------------------------------
    def _authorization(self) -> str:
        if self._auth_header is None:
            if _is_jwt(self._token):
                answer = self._send("POST", "/api/token/refresh/", {"refresh": self._token}, authorize=False)
                if not isinstance(answer, dict) or "access" not in answer:
                    raise LabelStudioError(f"Label Studio at {self.url} gave no access token for the personal access token")
                self._auth_header = f"Bearer {answer['access']}"
            else:
                self._auth_header = f"Token {self._token}"
        return self._auth_header

    # -- requests ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, query: Optional[dict] = None):
        """`method` `path` (from the server root, e.g. /api/projects/3) with a JSON body; the JSON
        answer (None for an empty one)."""
        return self._send(method, path, body, query=query, authorize=True)

    def get(self, path: str, **query):
        return self.request("GET", path, query=query or None)

    def post(self, path: str, body=None, **query):
        return self.request("POST", path, body, query=query or None)

    def patch(self, path: str, body=None):
        return self.request("PATCH", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    def get_bytes(self, path: str) -> bytes:
        """The raw body of GET `path` (an image the server serves to annotators)."""
        return self._send("GET", path, as_bytes=True)

    def _send(self, method, path, body=None, query=None, authorize=True, as_bytes=False):
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: _query_value(v) for k, v in query.items()})
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if authorize:
            headers["Authorization"] = self._authorization()
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = resp.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(method, path, exc.code, exc.read()) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LabelStudioUnreachable(
                f"cannot reach Label Studio at {self.url} ({reason}): is the server running, and is the URL right?") from None
        if as_bytes:
            return answer
        if not answer.strip():
            return None
        try:
            return json.loads(answer)
        except ValueError:
            raise LabelStudioError(f"{self.url}{path} did not answer with JSON: is {self.url} a Label Studio server?") from None

    def _http_error(self, method, path, code, body) -> LabelStudioError:
        detail = _detail(body)
        if code in (401, 403):
            kind = "personal access token" if _is_jwt(self._token) else "legacy token"
            hint = ("" if _is_jwt(self._token) else
                    "; legacy tokens work only where the server enables them (label-studio start --enable-legacy-api-token)")
            return LabelStudioAuthError(f"Label Studio at {self.url} refused the API token ({kind}; HTTP {code}: {detail}): "
                                        f"set {TOKEN_ENV} to a valid token{hint}")
        if code == 404:
            return LabelStudioNotFound(f"Label Studio at {self.url}: {method} {path}: not found ({detail})")
        return LabelStudioError(f"Label Studio at {self.url}: {method} {path} failed (HTTP {code}: {detail})")


def _query_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return v
