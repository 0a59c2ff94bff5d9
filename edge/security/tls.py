"""HTTPS: the configured certificate, or a self-signed one made once and kept."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.files import write_atomic


def self_signed_paths(state_dir: Path) -> tuple[Path, Path]:
    return state_dir / "tls" / "cert.pem", state_dir / "tls" / "key.pem"


def make_self_signed(cert_path: Path, key_path: Path, hostname: str, addresses: Iterable[str] = ()) -> None:
    """An ECDSA P-256 certificate for ``hostname``, ``hostname.local``, localhost, 127.0.0.1, ::1 and
    ``addresses``; 10 years."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{hostname}.local")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName(f"{hostname}.local"),
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        *(x509.IPAddress(ipaddress.ip_address(address)) for address in addresses),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(key_path, key_pem, mode=0o600)
    write_atomic(cert_path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)


def server_ssl_context(cert: str, key: str, state_dir: Path) -> tuple[ssl.SSLContext, bool]:
    """Return the context and whether a self-signed certificate was just created."""
    created = False
    if cert:
        cert_path, key_path = Path(cert), Path(key or cert)
    else:
        cert_path, key_path = self_signed_paths(state_dir)
        if not cert_path.exists() or not key_path.exists():
            make_self_signed(cert_path, key_path, socket.gethostname())
            created = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, created
