"""Where a webhook may be sent: the policy that keeps alert notifications from being turned
against procplane's own network (server-side request forgery).

Whoever holds a deployer key chooses a webhook URL, and procplane POSTs to it from inside the
cluster. Without a policy that URL could reach the cloud's metadata endpoint (169.254.169.254),
the cluster's services, or anything listening on loopback. So a webhook URL is refused when:

- its scheme is not http or https, or it is not a plain absolute URL (`invalid_url`);
- it carries a user name or password (`forbidden_target`): `http://hooks.example@10.0.0.1/`
  reads as one host and goes to another;
- its host is, or resolves to, an address that is not globally routable (`forbidden_target`):
  unspecified, loopback, link-local, private (RFC 1918, fc00::/7), shared (100.64.0.0/10),
  documentation, benchmarking, multicast or reserved. An IPv4 address carried in an IPv6 one
  (IPv4-mapped, 6to4, NAT64) is judged as the IPv4 address it carries. When a name resolves to
  several addresses, every one of them must pass.

Hosts are read the way resolvers and browsers read them: `2130706433`, `0x7f.1` and
`0177.0.0.1` are all 127.0.0.1 (inet_aton's forms, which the WHATWG URL standard adopts), and
`localhost` and `*.localhost` are loopback by definition (RFC 6761), whatever a resolver answers.

An operator whose receivers live on a private network allows those networks
(`Settings.webhook_allowed_networks`, a list of CIDRs): an address inside one of them passes.

Everything here is pure except `system_resolver`, the one lookup, which callers inject: the API
checks a URL when it is set, the observer again before every delivery (a name may resolve
elsewhere by then) and connects to the very address it checked."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import msgspec

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses the name resolves to, as strings; raises OSError when it does not.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

INVALID_URL = "invalid_url"
FORBIDDEN_TARGET = "forbidden_target"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name after IDNA: letters, digits, hyphens and underscores in dot-separated labels. Anything
# else (percent signs, backslashes, brackets) is refused rather than guessed at.
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
# The last label decides whether a host is meant as an IPv4 address (WHATWG's "ends in a number").
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network
# Carriers of an IPv4 address, judged by the address they carry.
_MAPPED = _v6("::ffff:0:0/96")
_SIX_TO_FOUR = _v6("2002::/16")
_NAT64 = _v6("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = _v6("2000::/3")
# Addresses that are not globally routable, with what they are, for the message. Listed rather
# than left to `ipaddress.is_global` alone, whose tables differ between Python versions
# (site-local and the local-use NAT64 prefix count as global on 3.11).
_NOT_GLOBAL: tuple[tuple[Network, str], ...] = (
    (_v4("0.0.0.0/8"), "unspecified"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.0.0.0/24"), "reserved"),
    (_v4("192.0.2.0/24"), "documentation"),
    (_v4("192.88.99.0/24"), "reserved"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("198.51.100.0/24"), "documentation"),
    (_v4("203.0.113.0/24"), "documentation"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("240.0.0.0/4"), "reserved"),
    (_v6("::/128"), "unspecified"),
    (_v6("::1/128"), "loopback"),
    (_v6("::/8"), "reserved"),
    (_v6("64:ff9b:1::/48"), "private"),
    (_v6("100::/64"), "reserved"),
    (_v6("2001::/23"), "reserved"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("3fff::/20"), "documentation"),
    (_v6("5f00::/16"), "reserved"),
    (_v6("fc00::/7"), "private"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "site-local"),
    (_v6("ff00::/8"), "multicast"),
)
_LOCALHOST = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


class TargetRefused(Exception):
    """A webhook URL procplane will not send to; `code` is the field error's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Unresolved(Exception):
    """The name did not resolve, or not in time: nothing to judge, and nothing to connect to."""


class Target(msgspec.Struct, frozen=True):
    """A webhook URL's destination, as the policy read it."""

    scheme: str
    # ASCII (IDNA), lower case, without brackets or a trailing dot.
    host: str
    port: int
    # The addresses the host names without asking a resolver: an IP literal, an inet_aton form,
    # or localhost. Empty for a name, which must be resolved.
    addresses: tuple[Address, ...] = ()
    # The host is a DNS name (localhost included): it goes in the Host header and in TLS's SNI.
    is_name: bool = True

    @property
    def netloc(self) -> str:
        """The Host header of a request to this target."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse the operator's allowed networks; ValueError names the first entry that is not a
    network (a host part left set, `10.0.0.1/8`, is refused as ambiguous)."""
    found = []
    for cidr in cidrs:
        try:
            found.append(ipaddress.ip_network(cidr.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a network in CIDR notation ({exc})") from exc
    return tuple(found)


def _invalid(message: str) -> TargetRefused:
    return TargetRefused(INVALID_URL, message)


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written in one of inet_aton's forms stands for (`2130706433`,
    `0x7f.1`, `0177.0.0.01`); None when the host is not meant as a number."""
    parts = host.split(".")
    if not _NUMBER.fullmatch(parts[-1]):
        return None
    if len(parts) > 4:
        raise _invalid("the host is neither a name nor an IPv4 address")
    numbers = []
    for part in parts:
        if part[:2] in ("0x", "0X"):
            digits, base = part[2:] or "0", 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        try:
            numbers.append(int(digits, base))
        except ValueError:
            raise _invalid("the host is neither a name nor an IPv4 address") from None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise _invalid("the host is neither a name nor an IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse(url: str) -> Target:
    """Read a webhook URL's destination; TargetRefused when the URL is not one procplane sends to
    whatever it resolves to. Addresses are judged separately (`Policy.check`)."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url) or "\\" in url:
        raise _invalid("must be an absolute http:// or https:// URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("must be an absolute http:// or https:// URL with a valid host and port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise _invalid("must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise TargetRefused(FORBIDDEN_TARGET, "must not carry a user name or password")
    if port == 0:
        raise _invalid("the port must be between 1 and 65535")
    port = port or DEFAULT_PORTS[scheme]
    host = parts.hostname
    if "[" in parts.netloc:  # a bracketed host must be an IPv6 address
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # an IPvFuture literal, `[v1.x]`
            raise _invalid("the host is not an IPv6 address") from None
        return Target(scheme, str(address), port, (address,), is_name=False)
    host = host.removesuffix(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _invalid("the host is not a valid name") from None
    if not _NAME.fullmatch(host):
        raise _invalid("the host is not a valid name")
    number = _ipv4_number(host)
    if number is not None:
        return Target(scheme, host, port, (number,), is_name=False)
    if host == "localhost" or host.endswith(".localhost"):
        return Target(scheme, host, port, _LOCALHOST)
    return Target(scheme, host, port)


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _MAPPED:
        return address.ipv4_mapped
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: Address) -> str | None:
    """What makes an address unfit for a webhook, or None for a globally routable one."""
    for network, kind in _NOT_GLOBAL:
        if address.version == network.version and address in network:
            return kind
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "reserved"
    if not address.is_global:
        return "non-global"
    return None


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


class Policy(msgspec.Struct, frozen=True):
    """The operator's allowed networks, and the judgement of addresses against them."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, cidrs: Iterable[str]) -> Policy:
        return cls(networks(cidrs))

    def _allowed(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self.allowed)

    def _judged(self, address: Address) -> tuple[str, str] | None:
        """(the address as shown, what it is) when procplane will not send to it, else None."""
        carried = _carried_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        judged = carried or address
        if self._allowed(address) or self._allowed(judged):
            return None
        kind = _kind(judged)
        if kind is None:
            return None
        return (f"{address} (carrying {carried})" if carried else str(address)), kind

    def refusal(self, address: Address) -> str | None:
        """Why procplane will not send to this address, or None when it may."""
        judged = self._judged(address)
        return None if judged is None else f"{judged[0]} is {_a(judged[1])} address"

    def check(self, target: Target, addresses: Sequence[Address]) -> None:
        """TargetRefused unless every address may be sent to: a name with one private answer
        among public ones is refused, since any of them may be the one connected to."""
        for address in addresses:
            judged = self._judged(address)
            if judged is None:
                continue
            shown, kind = judged
            if target.is_name and not target.addresses:
                reason = f"{target.host} resolves to {shown}, {_a(kind)} address"
            elif target.host != str(address):
                reason = f"{target.host} is {shown}, {_a(kind)} address"
            else:
                reason = f"{shown} is {_a(kind)} address"
            raise TargetRefused(FORBIDDEN_TARGET, f"{reason}; webhooks go to public addresses only")


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses a name resolves to, by the system's resolver (getaddrinfo), run by the event
    loop in a worker thread so a slow lookup blocks no request."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve(target: Target, resolver: Resolver, seconds: float) -> tuple[Address, ...]:
    """Every address the target may be reached at; Unresolved when a name has none within
    `seconds`."""
    if target.addresses:
        return target.addresses
    try:
        answers = await asyncio.wait_for(resolver(target.host, target.port), seconds)
    except TimeoutError:
        raise Unresolved(f"{target.host} did not resolve within {seconds:g} s") from None
    except OSError as exc:
        raise Unresolved(f"{target.host} did not resolve ({exc})") from None
    found: list[Address] = []
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer)
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    if not found:
        raise Unresolved(f"{target.host} resolves to no address")
    return tuple(found)


@functools.cache
def policy_of(cidrs: tuple[str, ...]) -> Policy:
    """The policy of these allowed networks, parsed once per set (the API asks on every request)."""
    return Policy.of(cidrs)
