"""
Configuration of the NetBox access layer.

The ``netbox`` key of the master/minion configuration (and, when given, of the pillar):

.. code-block:: yaml

    netbox:
      url: https://netbox.example.net      # or  snapshot: /srv/netbox/lab1.json
      token: nbt_abc123.secret             # or  token_file: /etc/salt/netbox.token
      verify: true                         # TLS verification;  ca_bundle: /path/ca.pem
      timeout: 10                          # seconds, or [connect, read]
      retries: 3                           # idempotent methods only (GET HEAD OPTIONS PUT DELETE)
      backoff: 0.5                         # urllib3 backoff factor
      retry_after_max: 60                  # cap, in seconds, of a 429's Retry-After wait
      page_size: 1000                      # 1..1000 (NetBox's MAX_PAGE_SIZE)

Precedence: ``overrides`` > opts > pillar (the daemon's own configuration wins over pillar data
so that a pillar can never redirect a master or minion to another NetBox; pillar only fills keys
the configuration leaves unset). The pillar's ``netbox`` key counts only for the keys above, and
not at all when it holds the ext_pillar's NetBox object (it then has an ``id``).
"""

import dataclasses
import hashlib
import logging
import os
import re
from urllib.parse import urlsplit

from salt_ext.utils.netbox.errors import NetBoxConfigError, register_secret

log = logging.getLogger(__name__)

__all__ = ["NetBoxConfig", "load_config", "parse_token", "DEFAULTS"]

DEFAULTS = {
    "verify": True,
    "ca_bundle": None,
    "timeout": (5.0, 30.0),
    "retries": 3,
    "backoff": 0.5,
    "retry_after_max": 60.0,
    "page_size": 1000,
}
MAX_PAGE_SIZE = 1000
KNOWN_KEYS = frozenset(
    (
        "url",
        "token",
        "token_file",
        "verify",
        "ca_bundle",
        "timeout",
        "retries",
        "backoff",
        "retry_after_max",
        "page_size",
        "snapshot",
    )
)
_V2_TOKEN = re.compile(r"^nbt_[A-Za-z0-9]+\.[A-Za-z0-9_\-]+$")
_V1_TOKEN = re.compile(r"^[0-9a-fA-F]{40}$")
_WHERE = "set it in the master/minion config (or pillar) under netbox:"


@dataclasses.dataclass(frozen=True)
class NetBoxConfig:
    """
    Validated NetBox access configuration. Build it with :func:`load_config`.

    ``token`` is the bare token value (no keyword); ``token_keyword`` is ``Bearer`` for v2
    tokens (``nbt_<key>.<secret>``) and ``Token`` for v1 tokens (40 hex), unless the
    configured value already carried a keyword. ``repr()``/``str()`` never show the token.
    """

    url: str | None = None
    token: str | None = dataclasses.field(default=None, repr=False)
    token_file: str | None = None
    verify: bool = True
    ca_bundle: str | None = None
    timeout: tuple = (5.0, 30.0)
    retries: int = 3
    backoff: float = 0.5
    retry_after_max: float = 60.0
    page_size: int = 1000
    snapshot: str | None = None
    token_keyword: str | None = None
    token_version: str | None = None

    def __post_init__(self):
        register_secret(self.token)

    @property
    def kind(self):
        """``"snapshot"`` when a snapshot file is the source, else ``"api"``."""
        return "snapshot" if self.snapshot else "api"

    @property
    def api_url(self):
        """The API root, ``<url>/api``."""
        return f"{self.url}/api" if self.url else None

    @property
    def authorization(self):
        """The ``Authorization`` header value (secret: never log it)."""
        if not self.token:
            return None
        return f"{self.token_keyword} {self.token}"

    @property
    def tls_verify(self):
        """The value for ``requests``' ``verify``: the CA bundle path, or the boolean."""
        if self.ca_bundle:
            return self.ca_bundle
        return bool(self.verify)

    def fingerprint(self):
        """
        A stable hash of the configuration, used as a cache key. The token enters only as a
        salted digest, so the fingerprint never reveals it.
        """
        parts = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "token":
                value = hashlib.sha256(b"saltext-turnup:" + (value or "").encode()).hexdigest()
            parts.append(f"{field.name}={value!r}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]

    def __str__(self):
        where = self.snapshot if self.snapshot else self.url
        token = f", token={self.token_version} ({self.token_keyword})" if self.token else ""
        return f"NetBoxConfig({self.kind} {where}{token})"

    def safe_dict(self):
        """The configuration as a dict without the token (for return data and logs)."""
        data = dataclasses.asdict(self)
        data["token"] = "<set>" if self.token else None
        data["timeout"] = list(self.timeout)
        return data


def parse_token(value, field="token"):
    """
    Validate a token value and detect its form.

    Returns ``(bare_token, keyword, version)``: ``nbt_<key>.<secret>`` -> ``Bearer``/``v2``;
    40 hex characters -> ``Token``/``v1``. A value that already starts with ``Token `` or
    ``Bearer `` keeps that keyword (NetBox accepts both keywords for both versions).
    """
    if not isinstance(value, str):
        raise NetBoxConfigError(
            f"netbox:{field} must be a string (got {type(value).__name__}); {_WHERE}{field}"
        )
    text = value.strip()
    keyword = None
    match = re.match(r"^(Token|Bearer)\s+(\S+)$", text, re.IGNORECASE)
    if match:
        keyword = match.group(1).capitalize()
        text = match.group(2)
    if _V2_TOKEN.match(text):
        version = "v2"
    elif _V1_TOKEN.match(text):
        version = "v1"
    else:
        # Never echo the value: it is a secret, even when malformed.
        raise NetBoxConfigError(
            f"netbox:{field} is neither a v2 token (nbt_<key>.<secret>) nor a v1 token "
            f"(40 hexadecimal characters); got a {len(text)}-character value. Copy the token "
            "from NetBox (User > API Tokens) into netbox:token or netbox:token_file"
        )
    if keyword is None:
        keyword = "Bearer" if version == "v2" else "Token"
    register_secret(text)
    return text, keyword, version


def _read_token_file(path):
    if not isinstance(path, str) or not path:
        raise NetBoxConfigError(
            f"netbox:token_file must be a file path (got {path!r}); {_WHERE}token_file"
        )
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read().strip()
    except OSError as err:
        raise NetBoxConfigError(
            f"netbox:token_file {path!r} cannot be read ({err.strerror}); check the path and "
            "its permissions (the salt user must be able to read it)"
        ) from None
    if not content:
        raise NetBoxConfigError(f"netbox:token_file {path!r} is empty; write the token into it")
    return content


def _number(name, value, minimum=0.0, allow_zero=True):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise NetBoxConfigError(f"netbox:{name} must be a number (got {value!r}); {_WHERE}{name}")
    try:
        number = float(value)
    except ValueError:
        raise NetBoxConfigError(
            f"netbox:{name} must be a number (got {value!r}); {_WHERE}{name}"
        ) from None
    if number < minimum or (not allow_zero and number == 0):
        raise NetBoxConfigError(
            f"netbox:{name} must be {'greater than' if not allow_zero else 'at least'} "
            f"{minimum:g} (got {value!r}); {_WHERE}{name}"
        )
    return number


def _integer(name, value, minimum, maximum=None, hint=""):
    if isinstance(value, bool):
        value = "bool"
    try:
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        raise NetBoxConfigError(
            f"netbox:{name} must be an integer (got {value!r}); {_WHERE}{name}"
        ) from None
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise NetBoxConfigError(
            f"netbox:{name} must be {bounds}{hint} (got {value!r}); {_WHERE}{name}"
        )
    return number


def _timeout(value):
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise NetBoxConfigError(
                f"netbox:timeout must be a number of seconds or [connect, read] (got {value!r}); "
                f"{_WHERE}timeout"
            )
        return (
            _number("timeout", value[0], allow_zero=False),
            _number("timeout", value[1], allow_zero=False),
        )
    number = _number("timeout", value, allow_zero=False)
    return (number, number)


def _boolean(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
        return False
    raise NetBoxConfigError(f"netbox:{name} must be true or false (got {value!r}); {_WHERE}{name}")


def _url(value):
    if not isinstance(value, str) or not value.strip():
        raise NetBoxConfigError(
            f"netbox:url must be a URL like https://netbox.example.net (got {value!r}); "
            f"{_WHERE}url"
        )
    url = value.strip()
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise NetBoxConfigError(
            f"netbox:url must start with http:// or https:// (got {url!r}); "
            "set it in the master config"
        )
    if not re.match(r"^https?://[^/\s?#]+", url, re.IGNORECASE) or re.search(r"\s", url):
        raise NetBoxConfigError(f"netbox:url has no valid host (got {url!r}); {_WHERE}url")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # requests would send them as Basic auth instead of the token (NetBox answers 403), and
        # they would show wherever the URL is shown: never repeat the URL in this message.
        raise NetBoxConfigError(
            "netbox:url must not contain user:password@ (NetBox authenticates with the token, and "
            f"credentials in a URL end up in logs); remove them and set netbox:token; {_WHERE}url"
        )
    if parts.query or parts.fragment:
        raise NetBoxConfigError(
            f"netbox:url must be NetBox's root URL without ?query or #fragment; {_WHERE}url"
        )
    url = url.rstrip("/")
    if url.lower().endswith("/api"):
        url = url[: -len("/api")]
    return url


def _section(source, name):
    if source is None:
        return {}
    section = source.get("netbox") if hasattr(source, "get") else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise NetBoxConfigError(
            f"netbox in the {name} must be a mapping of url/token/... "
            f"(got {type(section).__name__})"
        )
    return section


def _pillar_section(pillar):
    """
    The configuration keys of the pillar's ``netbox`` key. That key also holds other data: the
    ext_pillar serves a minion's NetBox object under it (``id``, ``name``, ``url`` of the
    object, ...). Such node data is never configuration (its ``url`` is the object's API URL,
    not NetBox's), and keys other than the configuration's are not ours to warn about.
    """
    if pillar is None or not hasattr(pillar, "get") or not isinstance(pillar.get("netbox"), dict):
        return {}
    section = pillar["netbox"]
    if "id" in section:
        return {}
    return {k: v for k, v in section.items() if k in KNOWN_KEYS}


_WARNED = set()


def _warn_once(message, *args):
    """Log a warning once per process: the configuration is loaded on every loader call."""
    key = (message, args)
    if key in _WARNED:
        return
    _WARNED.add(key)
    log.warning(message, *args)


def load_config(opts, pillar=None, overrides=None):
    """
    Build a validated :class:`NetBoxConfig` from the ``netbox`` key of ``opts`` (master or
    minion configuration), ``pillar`` and ``overrides`` (precedence: overrides > opts > pillar).

    Raises :class:`NetBoxConfigError` (a ``SaltInvocationError``) naming the field and the fix.
    """
    merged = {}
    merged.update({k: v for k, v in _pillar_section(pillar).items() if v is not None})
    merged.update({k: v for k, v in _section(opts, "configuration").items() if v is not None})
    if overrides:
        if not isinstance(overrides, dict):
            raise NetBoxConfigError(f"netbox overrides must be a mapping (got {overrides!r})")
        merged.update({k: v for k, v in overrides.items() if v is not None})

    unknown = sorted(set(merged) - KNOWN_KEYS)
    if unknown:
        _warn_once(
            "Ignoring unknown netbox configuration keys %s (known: %s)",
            ", ".join(unknown),
            ", ".join(sorted(KNOWN_KEYS)),
        )

    values = dict(DEFAULTS)
    snapshot = merged.get("snapshot")
    if snapshot is not None:
        if not isinstance(snapshot, str) or not snapshot.strip():
            raise NetBoxConfigError(
                f"netbox:snapshot must be the path of a snapshot JSON file (got {snapshot!r}); "
                f"{_WHERE}snapshot"
            )
        snapshot = os.path.abspath(os.path.expanduser(snapshot.strip()))
        if not os.path.isfile(snapshot):
            raise NetBoxConfigError(
                f"netbox:snapshot file {snapshot!r} does not exist; create it with the "
                "netbox export runner or point netbox:snapshot at an existing lab1.json-format "
                "file"
            )
        values["snapshot"] = snapshot

    url = merged.get("url")
    if url is not None or snapshot is None:
        if url is None:
            raise NetBoxConfigError(
                "netbox:url is not set; set netbox:url (and netbox:token) in the master/minion "
                "config, or netbox:snapshot to use a snapshot file"
            )
        values["url"] = _url(url)

    token = merged.get("token")
    token_file = merged.get("token_file")
    if token is not None and token_file is not None:
        raise NetBoxConfigError(
            "netbox:token and netbox:token_file are both set; keep only one of them"
        )
    if token_file is not None:
        values["token_file"] = token_file
        token = _read_token_file(token_file)
        field = "token_file"
    else:
        field = "token"
    if token is not None:
        bare, keyword, version = parse_token(token, field=field)
        values.update(token=bare, token_keyword=keyword, token_version=version)
    elif values.get("url") and not snapshot:
        raise NetBoxConfigError(
            "netbox:token is not set; set netbox:token (or netbox:token_file) to a NetBox API "
            "token in the master/minion config"
        )

    if "verify" in merged:
        verify = merged["verify"]
        if isinstance(verify, str) and verify.strip().lower() not in (
            "true",
            "false",
            "yes",
            "no",
            "1",
            "0",
            "on",
            "off",
        ):
            # requests accepts a CA bundle path as verify: treat it as ca_bundle
            merged.setdefault("ca_bundle", verify)
            verify = True
        values["verify"] = _boolean("verify", verify)
    if merged.get("ca_bundle") is not None:
        ca_bundle = merged["ca_bundle"]
        if not isinstance(ca_bundle, str) or not os.path.exists(ca_bundle):
            raise NetBoxConfigError(
                f"netbox:ca_bundle {ca_bundle!r} does not exist; point it at a PEM file or a "
                "directory of CA certificates"
            )
        values["ca_bundle"] = ca_bundle
    if "timeout" in merged:
        values["timeout"] = _timeout(merged["timeout"])
    if "retries" in merged:
        values["retries"] = _integer("retries", merged["retries"], 0, 10)
    if "backoff" in merged:
        values["backoff"] = _number("backoff", merged["backoff"])
    if "retry_after_max" in merged:
        values["retry_after_max"] = _number("retry_after_max", merged["retry_after_max"])
    if "page_size" in merged:
        values["page_size"] = _integer(
            "page_size",
            merged["page_size"],
            1,
            MAX_PAGE_SIZE,
            hint=" (NetBox caps pages at MAX_PAGE_SIZE=1000)",
        )
    config = NetBoxConfig(**values)
    if config.url and config.token and config.url.lower().startswith("http://"):
        host = re.sub(r"^http://([^/:]+).*$", r"\1", config.url, flags=re.IGNORECASE)
        if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            _warn_once(
                "netbox:url %s is plain http: the API token travels unencrypted; use https://",
                config.url,
            )
    return config
