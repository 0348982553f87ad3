# -*- coding: utf-8 -*-
"""A tiny test PKI (cryptography only): a CA, certificates it issues, self-signed certificates, PFX files.

Used by the HTTPS emulator (server certificate, app registration certificate) and by SMTP test servers.

    ca = make_ca(directory, "Test CA")                       # -> Pair(cert, key, pem, cert_obj, key_obj)
    leaf = issue_cert(ca, directory, "server", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    make_pfx(leaf.cert, leaf.key, "secret", os.path.join(directory, "server.pfx"))

``cert``/``key``/``pem`` are file paths (certificate, private key, certificate + key in one file).
"""

from __future__ import absolute_import, division, print_function

import collections
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Pair = collections.namedtuple("Pair", "cert key pem cert_obj key_obj")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _save(directory, basename, cert, key, key_password=None):
    os.makedirs(directory, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    encryption = (serialization.BestAvailableEncryption(key_password.encode("utf-8")) if key_password
                  else serialization.NoEncryption())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    cert_path = _write(os.path.join(directory, basename + ".crt"), cert_pem, 0o644)
    key_path = _write(os.path.join(directory, basename + ".key"), key_pem)
    pem_path = _write(os.path.join(directory, basename + ".pem"), cert_pem + key_pem)
    return Pair(cert_path, key_path, pem_path, cert, key)


def make_ca(directory, common_name="m365.mailflow test CA", basename="ca"):
    """A self-signed CA; files <basename>.crt/.key/.pem in ``directory``."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _save(directory, basename, cert, key)


def issue_cert(ca, directory, basename, dns_names=(), ip_addresses=(), not_before=None, not_after=None,
               self_signed=False, common_name=None, key_password=None):
    """A leaf certificate issued by ``ca`` (a Pair from make_ca), or self-signed when ``self_signed``.

    Returns a Pair of paths (cert, key, combined pem). ``key_password`` encrypts the key files.
    ``not_before``/``not_after`` are datetimes (default: 5 minutes ago / 30 days from now).
    """
    key = _key()
    common_name = common_name or (list(dns_names) + [str(ip) for ip in ip_addresses] + [basename])[0]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    issuer_name = subject if self_signed or ca is None else ca.cert_obj.subject
    signing_key = key if self_signed or ca is None else ca.key_obj
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
               .not_valid_after(not_after or now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    alt_names = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if not (self_signed or ca is None):
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key_obj.public_key()), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    return _save(directory, basename, cert, key, key_password=key_password)


def make_pfx(cert, key, password, path, friendly_name=b"m365.mailflow test"):
    """Write a PKCS#12 file with ``cert`` and ``key`` (paths or cryptography objects), encrypted with ``password``."""
    if isinstance(cert, str):
        with open(cert, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    if isinstance(key, str):
        with open(key, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    encryption = serialization.BestAvailableEncryption(password.encode("utf-8")) if password else serialization.NoEncryption()
    data = pkcs12.serialize_key_and_certificates(friendly_name, key, cert, None, encryption)
    return _write(path, data)
