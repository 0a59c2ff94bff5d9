"""Trusting a test server's self-signed certificate (``edge.security.tls.make_self_signed``): a client
loads the certificate file as its CA bundle (``SSL_CERT_FILE`` for the daemon), Chromium trusts its key
(:func:`spki_sha256`)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def spki_sha256(cert_path: Path) -> str:
    """The certificate's public key hash, as Chromium's ``--ignore-certificate-errors-spki-list`` takes it."""
    key = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()
