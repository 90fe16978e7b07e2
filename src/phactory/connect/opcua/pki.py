"""Application instance certificates: made on first start, kept, reused.

OPC UA secures a channel with the application instance certificates of both ends
(OPC 10000-4 §6.1; OPC 10000-6 §6.2.2): an X.509 v3 certificate whose
``subjectAltName`` carries the application URI (and the host names), with an RSA key for
the Basic256Sha256 policy (OPC 10000-7, "SecurityPolicy - Basic256Sha256": RSA 2048 to
4096 bits, SHA-256 signatures). Phactory makes a self-signed one on first use, in a
directory (the *PKI directory*)::

    <pki_dir>/own/server_cert.der     the server's certificate (DER)
    <pki_dir>/own/server_key.pem      its private key (PEM, PKCS#8, mode 0600)
    <pki_dir>/own/client_cert.der     a client certificate for Phactory's own clients
    <pki_dir>/own/client_key.pem      (the batch engine's phase driver, tests)

and reuses it at every later start, so that clients that trusted it once keep trusting
it. A certificate is made again only when it is missing, expires within
:data:`RENEW_BEFORE_DAYS`, or does not name the application URI; the key is kept as long as
it matches. The default directory is ``opcua`` in Phactory's data folder (``$PHACTORY_HOME``,
by default ``~/.local/share/phactory/opcua``).

Files are written to a temporary name and renamed, so that two servers starting at the
same time never read half a key.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from phactory.errors import InvalidError
from phactory.files import write_atomic

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "RENEW_BEFORE_DAYS",
    "VALID_DAYS",
    "CertificateFiles",
    "default_pki_dir",
    "ensure_certificate",
]

#: Validity of a certificate made here [d].
VALID_DAYS: Final = 730
#: A certificate expiring sooner than this is made again at start [d].
RENEW_BEFORE_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """Where an application's certificate and key are, and whether they were just made."""

    certificate: Path
    private_key: Path
    application_uri: str
    generated: bool


def default_pki_dir() -> Path:
    """``opcua`` in Phactory's data folder (``$PHACTORY_HOME``, by default
    ``~/.local/share/phactory``: :func:`phactory.store.settings.data_dir`)."""
    from phactory.store.settings import data_dir

    return data_dir() / "opcua"


def ensure_certificate(
    pki_dir: Path | str,
    application_uri: str,
    *,
    kind: Literal["server", "client"] = "server",
    hostnames: tuple[str, ...] = (),
) -> CertificateFiles:
    """The certificate and key of an application, made if missing or no longer fit.

    Parameters
    ----------
    pki_dir
        The PKI directory (made with mode 0700 if missing).
    application_uri
        The application URI the certificate must name (``subjectAltName`` URI).
    kind
        ``server`` or ``client``: the file names and the extended key usage.
    hostnames
        Host names and IP addresses to name besides this machine's host name and
        ``localhost``.

    Raises
    ------
    InvalidError
        If the directory cannot be made or written.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    own = Path(pki_dir) / "own"
    try:
        own.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise InvalidError(f"OPC UA PKI directory {own}: {exc.strerror or exc}") from exc
    cert_path, key_path = own / f"{kind}_cert.der", own / f"{kind}_key.pem"

    key = _load_key(key_path)
    if key is not None and cert_path.is_file():
        try:
            cert = x509.load_der_x509_certificate(cert_path.read_bytes())
        except ValueError:
            cert = None
        if cert is not None and _fits(cert, key, application_uri):
            return CertificateFiles(cert_path, key_path, application_uri, generated=False)

    from asyncua.crypto import cert_gen

    if key is None:
        key = cert_gen.generate_private_key()
        _write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            mode=0o600,
        )
    cert = _make_certificate(key, application_uri, kind, hostnames)
    _write(cert_path, cert.public_bytes(serialization.Encoding.DER), mode=0o644)
    return CertificateFiles(cert_path, key_path, application_uri, generated=True)


def _load_key(path: Path) -> RSAPrivateKey | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    if not path.is_file():
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        return None  # unreadable: make a new one rather than refuse to start
    return key if isinstance(key, RSAPrivateKey) and key.key_size >= 2048 else None


def _fits(cert: x509.Certificate, key: RSAPrivateKey, application_uri: str) -> bool:
    """Whether ``cert`` belongs to ``key``, names the URI and stays valid long enough."""
    from cryptography import x509

    if cert.public_key() != key.public_key():
        return False
    if cert.not_valid_after_utc < datetime.now(UTC) + timedelta(days=RENEW_BEFORE_DAYS):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return application_uri in san.get_values_for_type(x509.UniformResourceIdentifier)


def _make_certificate(
    key: RSAPrivateKey, application_uri: str, kind: str, hostnames: tuple[str, ...]
) -> x509.Certificate:
    from asyncua.crypto import cert_gen
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    seen: set[str] = set()
    for host in (socket.gethostname(), "localhost", *hostnames):
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if kind == "server":
        usage.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    return cert_gen.generate_self_signed_app_certificate(
        key,
        f"Phactory OPC UA {kind}@{socket.gethostname()}",
        {"organizationName": "Phactory"},
        names,
        extended=usage,
        days=VALID_DAYS,
    )


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``."""
    write_atomic(path, data, what="the OPC UA PKI file", mode=mode)
