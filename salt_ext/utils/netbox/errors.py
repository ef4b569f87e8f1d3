"""
Typed errors of the NetBox access layer.

Every failure talking to NetBox (or to a snapshot source) surfaces as a :class:`NetBoxError`
subclass chosen from the HTTP status, carrying NetBox's own message. Loader modules map them to
Salt exceptions (``CommandExecutionError``, ``SaltRunnerError``); :class:`NetBoxConfigError` is
already a ``SaltInvocationError`` because it always means bad input.

Messages never contain the API token: every message goes through :func:`scrub`, which removes
registered secrets and anything that looks like an ``Authorization`` value.
"""

import re
import threading
from urllib.parse import quote, quote_plus

from salt.exceptions import SaltInvocationError

__all__ = [
    "NetBoxError",
    "NetBoxNotFound",
    "NetBoxInvalidRequest",
    "NetBoxPermissionDenied",
    "NetBoxPreconditionFailed",
    "NetBoxConflict",
    "NetBoxAmbiguous",
    "NetBoxUnavailable",
    "NetBoxTimeout",
    "NetBoxConfigError",
    "NetBoxUnknownFilter",
    "from_response",
    "from_status",
    "flatten_errors",
    "register_secret",
    "scrub",
]

_SECRETS = set()
_SECRETS_LOCK = threading.Lock()
# v2 tokens, "Token <40 hex>", "Bearer <anything>" and bare 40-hex v1 tokens.
_TOKEN_PATTERNS = (
    re.compile(r"nbt_[A-Za-z0-9]+\.[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)\b(token|bearer)\s+[A-Za-z0-9_.\-]{20,}"),
    re.compile(r"\b[0-9a-fA-F]{40}\b"),
)
REDACTED = "<redacted>"


def register_secret(secret):
    """
    Remember ``secret`` so that :func:`scrub` removes it from any message.

    Called by the configuration loader for every token it reads.
    """
    if not secret or len(str(secret)) < 4:
        return
    secret = str(secret)
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    if secret.startswith("nbt_") and "." in secret:
        # a v2 token: its secret part alone is the credential too
        forms.add(secret.split(".", 1)[1])
    with _SECRETS_LOCK:
        _SECRETS.add(secret)
        _SECRETS.update(form for form in forms if len(form) >= 8)


def scrub(text):
    """
    Return ``text`` with every registered secret and token-looking value replaced.
    """
    if text is None:
        return text
    text = str(text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(
            lambda m: (
                f"{m.group(1)} {REDACTED}"
                if m.lastindex and m.group(1).lower() in ("token", "bearer")
                else REDACTED
            ),
            text,
        )
    return text


def _scrub_body(body):
    if isinstance(body, str):
        return scrub(body)
    if isinstance(body, dict):
        return {scrub(k): _scrub_body(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_scrub_body(v) for v in body]
    return body


class NetBoxError(Exception):
    """
    Base class of every NetBox access error.

    :param message: human readable message (NetBox's own message when there is one)
    :param status: the HTTP status, or ``None`` for transport errors
    :param body: the parsed response body, if any
    :param endpoint: the endpoint (``dcim.devices``) or URL path the request was for
    """

    default_status = None
    #: keyword arguments of a subclass kept when the error is pickled (multiprocessing, Salt)
    extra_fields = ()

    def __init__(self, message, status=None, body=None, endpoint=None):
        self.message = scrub(message)
        self.status = status if status is not None else self.default_status
        self.body = _scrub_body(body)
        self.endpoint = endpoint
        super().__init__(self.message)

    def __str__(self):
        return self.message

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"endpoint={self.endpoint!r})"
        )

    def __reduce__(self):
        extra = {name: getattr(self, name) for name in self.extra_fields}
        return (
            _rebuild,
            (type(self), (self.message, self.status, self.body, self.endpoint), extra),
        )


def _rebuild(cls, args, extra):
    return cls(*args, **extra)


class NetBoxNotFound(NetBoxError):
    """The object or endpoint does not exist (HTTP 404)."""

    default_status = 404


class NetBoxInvalidRequest(NetBoxError):
    """
    NetBox rejected the request (HTTP 400). ``field_errors`` holds NetBox's ``{field: [msgs]}``
    (for a bulk request, the per-item dicts merged, item index prefixed: ``"[1] name"``).
    """

    default_status = 400

    extra_fields = ("field_errors",)

    def __init__(self, message, status=None, body=None, endpoint=None, field_errors=None):
        super().__init__(message, status=status, body=body, endpoint=endpoint)
        if field_errors is None:
            field_errors = _field_errors(self.body)
        self.field_errors = field_errors


class NetBoxPermissionDenied(NetBoxError):
    """Missing or wrong token, or the token lacks the permission (HTTP 401/403)."""

    default_status = 403


class NetBoxPreconditionFailed(NetBoxError):
    """``If-Match`` did not match the object's current ETag (HTTP 412)."""

    default_status = 412


class NetBoxConflict(NetBoxError):
    """The request conflicts with the current state, e.g. no free IP left (HTTP 409)."""

    default_status = 409


class NetBoxAmbiguous(NetBoxError):
    """A natural-key look-up matched more than one object."""

    extra_fields = ("matches",)

    def __init__(self, message, status=None, body=None, endpoint=None, matches=None):
        super().__init__(message, status=status, body=body, endpoint=endpoint)
        self.matches = list(matches or [])


class NetBoxUnavailable(NetBoxError):
    """NetBox could not be reached, or answered 5xx or 429 (after retries for idempotent
    methods)."""


class NetBoxTimeout(NetBoxUnavailable):
    """Connect or read timeout."""


class NetBoxConfigError(NetBoxError, SaltInvocationError):
    """Bad ``netbox`` configuration or bad arguments to the access layer."""


class NetBoxUnknownFilter(NetBoxConfigError):
    """
    A query used a filter the endpoint does not have (NetBox would silently ignore it and
    answer with every object). ``filters`` lists the unknown names.
    """

    extra_fields = ("filters",)

    def __init__(self, message, status=None, body=None, endpoint=None, filters=None):
        super().__init__(message, status=status, body=body, endpoint=endpoint)
        self.filters = list(filters or [])


def _field_errors(body):
    """Extract ``{field: [msgs]}`` from a 400 body (dict, or list of dicts for bulk requests)."""
    if isinstance(body, dict):
        if set(body) == {"detail"}:
            return {}
        return {str(k): _as_list(v) for k, v in body.items()}
    if isinstance(body, list):
        merged = {}
        for index, item in enumerate(body):
            if isinstance(item, dict):
                for key, value in item.items():
                    merged[f"[{index}] {key}"] = _as_list(value)
            elif item:
                merged[f"[{index}]"] = _as_list(item)
        return merged
    return {}


def _as_list(value):
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):
                out.append(flatten_errors(item))
            else:
                out.append(str(item))
        return out
    if isinstance(value, dict):
        return [flatten_errors(value)]
    return [str(value)]


def flatten_errors(body):
    """
    Turn a NetBox error body into one readable line.

    ``{"detail": "Not found."}`` -> ``"Not found."``;
    ``{"site": ["This field is required."], "role": [...]}`` ->
    ``"site: This field is required.; role: This field is required."``;
    ``{"__all__": [...]}``/``non_field_errors`` lose their key; a bulk body (a list of such
    dicts) prefixes each item's messages with its index.
    """
    if body is None:
        return ""
    if isinstance(body, str):
        return body.strip()
    if isinstance(body, dict):
        if "detail" in body and len(body) == 1:
            return str(body["detail"])
        parts = []
        for key, value in body.items():
            msgs = "; ".join(_as_list(value)) if not isinstance(value, str) else value
            if key in ("__all__", "non_field_errors", "detail"):
                parts.append(msgs)
            else:
                parts.append(f"{key}: {msgs}")
        return "; ".join(parts)
    if isinstance(body, list):
        parts = []
        for index, item in enumerate(body):
            text = flatten_errors(item)
            if text:
                parts.append(f"[{index}] {text}" if len(body) > 1 else text)
        return "; ".join(parts)
    return str(body)


_STATUS_CLASSES = {
    400: NetBoxInvalidRequest,
    401: NetBoxPermissionDenied,
    403: NetBoxPermissionDenied,
    404: NetBoxNotFound,
    409: NetBoxConflict,
    412: NetBoxPreconditionFailed,
    # rate limited (after the retries of an idempotent request; a POST is never retried): NetBox
    # or its proxy cannot take the request now, exactly like a 503
    429: NetBoxUnavailable,
}


def class_for_status(status):
    """Return the :class:`NetBoxError` subclass for an HTTP status."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status is not None and status >= 500:
        return NetBoxUnavailable
    return NetBoxError


def from_status(status, body, endpoint=None, method=None, path=None):
    """
    Build the typed error for ``status`` with NetBox's message taken from ``body``.

    :param status: HTTP status
    :param body: parsed JSON body, text or ``None``
    :param endpoint: endpoint name (``dcim.devices``) stored on the error
    :param method: HTTP method, used in the message
    :param path: URL path, used in the message
    """
    cls = class_for_status(status)
    detail = flatten_errors(body)
    if isinstance(body, str) and (body.lstrip().startswith("<") or len(body) > 300):
        # HTML error pages (proxies, Django debug): keep the message short
        detail = ""
    where = " ".join(x for x in (method, path) if x)
    message = f"NetBox returned {status}"
    if where:
        message += f" for {where}"
    if detail:
        message += f": {detail}"
    return cls(message, status=status, body=body, endpoint=endpoint)


def from_response(response, endpoint=None):
    """
    Map a ``requests.Response`` (or anything with ``status_code``, ``json()``, ``text`` and
    ``request``) to a typed :class:`NetBoxError` carrying NetBox's message.
    """
    try:
        body = response.json()
    except Exception:  # pylint: disable=broad-except
        body = getattr(response, "text", None) or None
    method = path = None
    request = getattr(response, "request", None)
    if request is not None:
        method = getattr(request, "method", None)
        path = getattr(request, "path_url", None)
        if path:
            path = path.split("?", 1)[0]
    return from_status(response.status_code, body, endpoint=endpoint, method=method, path=path)
