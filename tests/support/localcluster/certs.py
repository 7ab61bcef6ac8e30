"""The local cluster's PKI: one CA, the apiserver's serving cert, a client cert per component.

Identities follow Kubernetes' own bootstrap conventions so RBAC's default bindings apply
unchanged: the admin and KWOK are `system:masters`, the controller-manager and scheduler
use their `system:kube-*` user names. ECDSA P-256 keeps generation instant.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
# The first address of the service range is the in-cluster `kubernetes` Service, which
# clients inside pods dial; the serving cert must name it.
# The apiserver forwards to aggregated APIs as this name; only it may assert identities
# through request headers.
FRONT_PROXY_CLIENT = "front-proxy-client"
APISERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


class KeyPair(NamedTuple):
    cert: Path
    key: Path


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: KeyPair
    apiserver: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    scheduler: KeyPair
    kwok: KeyPair
    front_proxy: KeyPair
    service_account_key: Path
    service_account_pub: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class _Authority:
    def __init__(self) -> None:
        self.key = _new_key()
        now = datetime.datetime.now(datetime.UTC)
        name = _name("procplane-local-ca")
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        common_name: str,
        organizations: tuple[str, ...] = (),
        *,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _new_key()
        now = datetime.datetime.now(datetime.UTC)
        serving = bool(dns_names or ip_addresses)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if serving else [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organizations))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if serving:
            names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def _pair(directory: Path, stem: str) -> KeyPair:
    return KeyPair(cert=directory / f"{stem}.crt", key=directory / f"{stem}.key")


def paths(directory: Path) -> Pki:
    """Where `generate` puts each file of the PKI in `directory`."""
    return Pki(
        ca=_pair(directory, "ca"),
        apiserver=_pair(directory, "apiserver"),
        admin=_pair(directory, "admin"),
        controller_manager=_pair(directory, "controller-manager"),
        scheduler=_pair(directory, "scheduler"),
        kwok=_pair(directory, "kwok"),
        front_proxy=_pair(directory, "front-proxy-client"),
        service_account_key=directory / "service-account.key",
        service_account_pub=directory / "service-account.pub",
    )


def _save(pair: KeyPair, issued: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> None:
    _write_cert(pair.cert, issued[0])
    _write_key(pair.key, issued[1])


def serving_pair(directory: Path, name: str) -> tuple[KeyPair, Path]:
    """A fresh CA and a serving certificate it issued for the DNS name `name`, written into
    `directory`: the server's pair, and the CA certificate a client trusts it by."""
    authority = _Authority()
    ca, server = _pair(directory, "ca"), _pair(directory, "server")
    _save(ca, (authority.cert, authority.key))
    _save(server, authority.issue(name, dns_names=(name,)))
    return server, ca.cert


def generate(directory: Path, *, service_ip: str) -> Pki:
    """Write a fresh PKI into `directory` (created if needed) and return its paths."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = paths(directory)
    authority = _Authority()
    _write_cert(pki.ca.cert, authority.cert)
    _write_key(pki.ca.key, authority.key)

    sa_key = _new_key()
    _write_key(pki.service_account_key, sa_key)
    pki.service_account_pub.write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    _save(
        pki.apiserver,
        authority.issue("kube-apiserver", dns_names=APISERVER_DNS_NAMES, ip_addresses=("127.0.0.1", "::1", service_ip)),
    )
    _save(pki.admin, authority.issue("procplane-admin", ("system:masters",)))
    _save(pki.controller_manager, authority.issue("system:kube-controller-manager"))
    _save(pki.scheduler, authority.issue("system:kube-scheduler"))
    # KWOK stands in for every kubelet at once, so per-node identities would not fit it.
    _save(pki.kwok, authority.issue("kwok-controller", ("system:masters",)))
    _save(pki.front_proxy, authority.issue(FRONT_PROXY_CLIENT))
    return pki
