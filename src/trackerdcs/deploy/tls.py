"""The deployment's own certificate authority and the broker's server certificate.

A lab has no PKI for its stand: a CA made here, kept in the secrets folder, signs the
broker's certificate; clients (services, the command-line tools, Node-RED, sensor boards)
trust that CA file only. The server certificate names every way the broker is reached.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
SERVER_YEARS = 2


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trackerdcs"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # fmt: skip


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.touch(mode=0o600)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def server_names(extra: list[str]) -> list[str]:
    """localhost, 127.0.0.1, this host's names and what the stand adds (its MQTT host)."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn(), *extra]
    return list(dict.fromkeys(n for n in names if n))


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


def ensure(folder: Path, names: list[str], stand: str, renew: bool = False) -> list[str]:
    """`ca.crt`/`ca.key` (made once), `server.crt`/`server.key` (made when missing, when
    `renew`, or when it lacks one of `names`). Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    written: list[str] = []
    ca_key_file, ca_file = folder / "ca.key", folder / "ca.crt"
    if not (ca_key_file.exists() and ca_file.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{stand} DCS CA"))
            .issuer_name(_name(f"{stand} DCS CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        _write_key(ca_key, ca_key_file)
        ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        written += ["ca.key", "ca.crt"]
        renew = True
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    ca_key = _load_key(ca_key_file)
    crt_file, key_file = folder / "server.crt", folder / "server.key"
    if crt_file.exists() and key_file.exists() and not renew:
        have = x509.load_pem_x509_certificate(crt_file.read_bytes())
        san = have.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        known = {str(v) for v in san.get_values_for_type(x509.DNSName)}
        known |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
        if set(names) <= known and have.not_valid_after_utc > now + dt.timedelta(days=30):
            return written
    key = ec.generate_private_key(ec.SECP256R1())
    crt = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * SERVER_YEARS))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key, key_file)
    crt_file.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    return [*written, "server.key", "server.crt"]
