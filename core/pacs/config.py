"""The PACS endpoints this deployment may talk to: a TOML file the operator writes.

Endpoints are configured, never typed into the app: a page lists :func:`load_config`'s
names, and only the command line may take a bare URL (for scripting). The file is
``REVIEW_PACS_CONFIG`` or ``<data root>/pacs.toml``::

    show_patient_identifiers = false        # the worklist hides patient name and ID
    secrets_file = "/etc/review/pacs-secrets.toml"   # optional

    [[endpoint]]
    name = "main"
    url = "https://pacs.example.org/dicom-web"
    auth = "basic"                           # none | basic | bearer
    username_env = "PACS_MAIN_USER"          # basic: both read from the environment ...
    password_env = "PACS_MAIN_PASSWORD"
    # token_env = "PACS_MAIN_TOKEN"          # bearer
    # ca_bundle = "/etc/ssl/hospital-ca.pem" # TLS is verified; a private CA goes here
    # verify_tls = false                     # only for a test server; logged as a warning
    timeout_s = 30

Credentials are never in this file, in ``bundle.json`` or in a log: each comes from the
environment variable the endpoint names, else from the secrets file's table of the same
name (``[main] username = ... password = ...`` or ``token = ...``), which should be
readable by the app's user alone. A bare URL (CLI only) takes ``REVIEW_PACS_USERNAME`` and
``REVIEW_PACS_PASSWORD``, or ``REVIEW_PACS_TOKEN``, when set.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from core import paths
from core.pacs.errors import PacsConfigError

__all__ = [
    "CONFIG_ENV",
    "AuthKind",
    "Endpoint",
    "PacsConfig",
    "config_path",
    "load_config",
    "resolve_endpoint",
]

log = logging.getLogger(__name__)

#: Environment variable naming the endpoint file (default ``<data root>/pacs.toml``).
CONFIG_ENV = "REVIEW_PACS_CONFIG"
#: Credentials of a bare URL given on the command line.
URL_ENVS = {"username": "REVIEW_PACS_USERNAME", "password": "REVIEW_PACS_PASSWORD",
            "token": "REVIEW_PACS_TOKEN"}  # fmt: skip
AuthKind = Literal["none", "basic", "bearer"]
_AUTH: tuple[AuthKind, ...] = ("none", "basic", "bearer")
_ENDPOINT_KEYS = {"name", "url", "auth", "username_env", "password_env", "token_env",
                  "ca_bundle", "verify_tls", "timeout_s"}  # fmt: skip
_TOP_KEYS = {"endpoint", "show_patient_identifiers", "secrets_file"}


@dataclass(frozen=True)
class Endpoint:
    """One DICOMweb service: where, how to sign in, how to check its certificate.

    ``credentials`` hold the secrets already read (``username``/``password`` or ``token``);
    they are left out of ``repr`` so that a logged endpoint shows none.
    """

    name: str
    url: str
    auth: AuthKind = "none"
    verify: bool | str = True  # True, False, or a CA bundle path (requests' ``verify``)
    timeout_s: float = 30.0
    credentials: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def shown(self) -> str:
        """How messages name it: the configured name and the host, never a credential."""
        host = urlsplit(self.url).netloc.rsplit("@", 1)[-1]
        return f"{self.name} ({host})" if self.name != host else host


@dataclass(frozen=True)
class PacsConfig:
    """The endpoints and the deployment's switch for patient identifiers in the worklist."""

    endpoints: dict[str, Endpoint]
    show_patient_identifiers: bool = False
    path: Path | None = None


def config_path() -> Path:
    """``REVIEW_PACS_CONFIG``, else ``pacs.toml`` in the data root."""
    env = os.environ.get(CONFIG_ENV, "").strip()
    return Path(env).expanduser() if env else paths.data_dir() / "pacs.toml"


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise PacsConfigError(f"the {what} {path} does not exist") from None
    except OSError as err:
        raise PacsConfigError(f"the {what} {path} cannot be read ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise PacsConfigError(f"the {what} {path} is not valid TOML: {err}") from None


def _secrets(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = 0
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the PACS secrets file %s is readable by others; chmod 600 it", path)
    return _read_toml(path, "PACS secrets file")


def _check_url(where: str, url: object) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise PacsConfigError(f"{where}: url must be an http(s) URL of a DICOMweb service")
    parts = urlsplit(url)
    if not parts.netloc or "@" in parts.netloc:
        raise PacsConfigError(f"{where}: the url needs a host and must not carry credentials")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        log.warning("%s: plain http to %s; use https outside a test set-up", where, parts.hostname)
    return url.rstrip("/")


def _credential(name: str, kind: str, env: str | None, secrets: dict[str, Any]) -> str:
    value = os.environ.get(env, "") if env else ""
    if not value:
        table = secrets.get(name, {})
        value = table.get(kind, "") if isinstance(table, dict) else ""
    if not isinstance(value, str) or not value:
        source = f"environment variable {env}" if env else "no environment variable named"
        raise PacsConfigError(
            f"endpoint {name}: no {kind} ({source}, nor [{name}] {kind} in the secrets file)"
        )
    return value


def _endpoint(entry: Any, secrets: dict[str, Any]) -> Endpoint:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise PacsConfigError("every [[endpoint]] needs a name")
    name = entry["name"]
    unknown = set(entry) - _ENDPOINT_KEYS
    if unknown:
        raise PacsConfigError(f"endpoint {name}: unknown keys {sorted(unknown)}")
    url = _check_url(f"endpoint {name}", entry.get("url"))
    auth = entry.get("auth", "none")
    if auth not in _AUTH:
        raise PacsConfigError(f"endpoint {name}: auth must be one of {', '.join(_AUTH)}")
    creds: dict[str, str] = {}
    if auth == "basic":
        for kind in ("username", "password"):
            creds[kind] = _credential(name, kind, entry.get(f"{kind}_env"), secrets)
    elif auth == "bearer":
        creds["token"] = _credential(name, "token", entry.get("token_env"), secrets)
    verify: bool | str = True
    if "ca_bundle" in entry:
        verify = str(entry["ca_bundle"])
    elif entry.get("verify_tls", True) is False:
        verify = False
        log.warning("endpoint %s: TLS certificate checks are OFF (verify_tls = false)", name)
    timeout = entry.get("timeout_s", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise PacsConfigError(f"endpoint {name}: timeout_s must be a number of seconds in (0, 600]")
    return Endpoint(name, url, auth, verify, float(timeout), creds)


def load_config(path: Path | None = None) -> PacsConfig:
    """The endpoint file, checked; raises :class:`PacsConfigError` saying what is wrong."""
    path = path or config_path()
    raw = _read_toml(path, "PACS endpoint file")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise PacsConfigError(f"{path}: unknown keys {sorted(unknown)}")
    secrets_file = raw.get("secrets_file")
    secrets = _secrets(Path(secrets_file).expanduser() if secrets_file else None)
    endpoints: dict[str, Endpoint] = {}
    for entry in raw.get("endpoint", []):
        ep = _endpoint(entry, secrets)
        if ep.name in endpoints:
            raise PacsConfigError(f"{path}: two endpoints are named {ep.name}")
        endpoints[ep.name] = ep
    show = raw.get("show_patient_identifiers", False)
    if not isinstance(show, bool):
        raise PacsConfigError(f"{path}: show_patient_identifiers must be true or false")
    return PacsConfig(endpoints, show, path)


def _url_endpoint(url: str) -> Endpoint:
    """A bare URL from the command line; credentials from ``REVIEW_PACS_*`` when set."""
    url = _check_url("the URL", url)
    env = {k: os.environ.get(v, "") for k, v in URL_ENVS.items()}
    if env["token"]:
        return Endpoint(urlsplit(url).netloc, url, "bearer", credentials={"token": env["token"]})
    if env["username"] and env["password"]:
        creds = {"username": env["username"], "password": env["password"]}
        return Endpoint(urlsplit(url).netloc, url, "basic", credentials=creds)
    return Endpoint(urlsplit(url).netloc, url)


def resolve_endpoint(
    name_or_url: str, *, allow_url: bool = False, config: PacsConfig | None = None
) -> Endpoint:
    """A configured endpoint by name; a bare http(s) URL only when ``allow_url`` (the CLI).

    The app never passes ``allow_url``: a user picks from the configured names.
    """
    if allow_url and urlsplit(name_or_url).scheme in ("http", "https"):
        return _url_endpoint(name_or_url)
    config = config or load_config()
    try:
        return config.endpoints[name_or_url]
    except KeyError:
        known = ", ".join(sorted(config.endpoints)) or "(none)"
        raise PacsConfigError(
            f"no PACS endpoint named {name_or_url!r}; configured: {known}"
        ) from None
