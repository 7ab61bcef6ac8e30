"""The webhook target policy (pure): which URLs and addresses a webhook may be sent to."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from controlplane.domain import webhook_targets
from controlplane.domain.settings import Settings, SettingsError, load_settings
from controlplane.domain.webhook_targets import FORBIDDEN_TARGET, INVALID_URL, Policy, TargetRefused
from tests.support.fake_dns import fake_failing_resolver, fake_resolver

STRICT = Policy()
UNSPECIFIED = "0.0.0.0"  # noqa: S104 - an address judged here, never one bound to


def refusal_code(url: str, policy: Policy = STRICT) -> str | None:
    """The code a URL is refused with, judging only what needs no resolver; None when accepted."""
    try:
        target = webhook_targets.parse(url)
        policy.check(target, target.addresses)
    except TargetRefused as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    "address",
    [
        UNSPECIFIED, "0.1.2.3", "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254",
        "192.0.0.1", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250",
        "240.0.0.1", "255.255.255.255",
        "::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "ff05::2",
        "2001:db8::1", "3fff::1", "100::1", "2001::1", "64:ff9b:1::1", "::2", "::127.0.0.1", "5f00::1",
        # IPv4 carried in IPv6 is judged as the IPv4 address it carries.
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
        "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    reason = STRICT.refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert reason.startswith(str(ipaddress.ip_address(address)))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.1", "172.32.0.1", "11.0.0.1",
     "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::8.8.8.8"],
)  # fmt: skip
def test_public_addresses_pass(address: str) -> None:
    assert STRICT.refusal(ipaddress.ip_address(address)) is None


def test_the_reason_names_what_the_address_is() -> None:
    assert STRICT.refusal(ipaddress.ip_address("169.254.169.254")) == "169.254.169.254 is a link-local address"
    assert STRICT.refusal(ipaddress.ip_address("100.64.1.1")) == "100.64.1.1 is a shared (carrier-grade NAT) address"
    assert STRICT.refusal(ipaddress.ip_address(UNSPECIFIED)) == "0.0.0.0 is an unspecified address"
    assert STRICT.refusal(ipaddress.ip_address("::ffff:10.1.2.3")) == (
        "::ffff:a01:203 (carrying 10.1.2.3) is a private address"
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1/hooks", FORBIDDEN_TARGET),
        ("http://127.0.0.1:8080/hooks", FORBIDDEN_TARGET),
        ("https://10.0.0.5/", FORBIDDEN_TARGET),
        ("http://169.254.169.254/latest/meta-data/", FORBIDDEN_TARGET),
        ("http://[::1]/", FORBIDDEN_TARGET),
        ("http://[::1]:9000/x", FORBIDDEN_TARGET),
        ("http://[::ffff:127.0.0.1]/", FORBIDDEN_TARGET),
        ("http://[::ffff:7f00:1]/", FORBIDDEN_TARGET),
        ("http://[fe80::1%25eth0]/", FORBIDDEN_TARGET),
        ("http://[fd00::1]/", FORBIDDEN_TARGET),
        # inet_aton's forms of 127.0.0.1 and of 0.0.0.0
        ("http://2130706433/", FORBIDDEN_TARGET),
        ("http://0x7f000001/", FORBIDDEN_TARGET),
        ("http://0x7f.1/", FORBIDDEN_TARGET),
        ("http://0X7F.0.0.1/", FORBIDDEN_TARGET),
        ("http://0177.0.0.1/", FORBIDDEN_TARGET),
        ("http://0177.0.0.01/", FORBIDDEN_TARGET),
        ("http://127.1/", FORBIDDEN_TARGET),
        ("http://127.0.1/", FORBIDDEN_TARGET),
        ("http://0/", FORBIDDEN_TARGET),
        ("http://017700000001/", FORBIDDEN_TARGET),
        ("http://169.254.43518/", FORBIDDEN_TARGET),
        ("http://127.0.0.1./", FORBIDDEN_TARGET),
        # localhost is loopback by definition, whatever a resolver says
        ("http://localhost/", FORBIDDEN_TARGET),
        ("http://LOCALHOST:8000/", FORBIDDEN_TARGET),
        ("http://localhost./", FORBIDDEN_TARGET),
        ("http://metadata.localhost/", FORBIDDEN_TARGET),
        # a user name or password in the URL
        ("https://user:secret@hooks.example.com/", FORBIDDEN_TARGET),
        ("https://hooks.example.com@10.0.0.1/", FORBIDDEN_TARGET),
        ("https://@hooks.example.com/", FORBIDDEN_TARGET),
        # not an http(s) URL, or not one host
        ("ftp://hooks.example.com/", INVALID_URL),
        ("file:///etc/passwd", INVALID_URL),
        ("gopher://hooks.example.com/", INVALID_URL),
        ("hooks.example.com/x", INVALID_URL),
        ("http:///x", INVALID_URL),
        ("http://hooks.example.com\\@10.0.0.1/", INVALID_URL),
        ("http://%31%32%37.0.0.1/", INVALID_URL),
        ("http://hooks example.com/", INVALID_URL),
        ("http://hooks.example.com:0/", INVALID_URL),
        ("http://hooks.example.com:65536/", INVALID_URL),
        ("http://[v1.fe]/", INVALID_URL),
        ("http://256.0.0.1/", INVALID_URL),
        ("http://1.2.3.4.5/", INVALID_URL),
        ("http://4294967296/", INVALID_URL),
        ("http://0x1g.0.0.1/", INVALID_URL),
        ("http://08.0.0.1/", INVALID_URL),
        ("http://hooks.123/", INVALID_URL),
    ],
)
def test_urls_refused(url: str, code: str) -> None:
    assert refusal_code(url) == code


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/procplane", "http://hooks.example.com:8080/x?y=1#z", "HTTPS://Hooks.Example.COM/",
     "https://8.8.8.8/", "https://[2606:4700:4700::1111]/", "https://0x08080808/", "https://bücher.example/",
     "https://hooks_1.example.com/"],
)  # fmt: skip
def test_urls_accepted(url: str) -> None:
    assert refusal_code(url) is None


def test_parse_reads_the_destination() -> None:
    name = webhook_targets.parse("HTTPS://Hooks.Example.COM./x")
    assert (name.scheme, name.host, name.port, name.addresses, name.is_name) == (
        "https", "hooks.example.com", 443, (), True,
    )  # fmt: skip
    assert name.netloc == "hooks.example.com"
    number = webhook_targets.parse("http://0x7f.1:8080/")
    assert number.addresses == (ipaddress.IPv4Address("127.0.0.1"),)
    assert not number.is_name
    assert number.netloc == "0x7f.1:8080"
    v6 = webhook_targets.parse("http://[::FFFF:127.0.0.1]:81/")
    assert (v6.host, v6.netloc, v6.is_name) == ("::ffff:7f00:1", "[::ffff:7f00:1]:81", False)
    assert webhook_targets.parse("https://bücher.example/").host == "xn--bcher-kva.example"
    local = webhook_targets.parse("http://localhost/")
    assert local.is_name
    assert local.addresses == (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def test_the_message_says_what_the_host_is() -> None:
    with pytest.raises(TargetRefused) as refused:
        refusal_code_raising("http://0x7f.1/")
    assert refused.value.message == "0x7f.1 is 127.0.0.1, a loopback address; webhooks go to public addresses only"


def refusal_code_raising(url: str) -> None:
    target = webhook_targets.parse(url)
    STRICT.check(target, target.addresses)


def test_allowed_networks_let_private_addresses_through_and_nothing_else() -> None:
    policy = Policy.of(["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"])
    assert refusal_code("http://127.0.0.1:8080/", policy) is None
    assert refusal_code("http://2130706433/", policy) is None
    assert refusal_code("http://[::ffff:127.0.0.1]/", policy) is None  # the carried address is allowed
    assert refusal_code("http://localhost/", policy) == FORBIDDEN_TARGET  # ::1 is not allowed
    assert refusal_code("http://10.1.2.3/", policy) is None
    assert refusal_code("http://10.2.0.1/", policy) == FORBIDDEN_TARGET
    assert refusal_code("http://169.254.169.254/", policy) == FORBIDDEN_TARGET
    assert refusal_code("http://[fd00::5]/", policy) is None
    assert refusal_code("http://[fc00::5]/", policy) == FORBIDDEN_TARGET
    assert refusal_code("https://user@10.1.2.3/", policy) == FORBIDDEN_TARGET  # userinfo, whatever the address
    assert refusal_code("http://localhost/", Policy.of(["127.0.0.0/8", "::1/128"])) is None


def test_every_resolved_address_must_pass() -> None:
    target = webhook_targets.parse("https://hooks.example.com/")
    public, private = ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.7")
    STRICT.check(target, [public])
    with pytest.raises(TargetRefused) as refused:
        STRICT.check(target, [public, private])
    assert refused.value.code == FORBIDDEN_TARGET
    assert refused.value.message.startswith("hooks.example.com resolves to 10.0.0.7, a private address")


@pytest.mark.parametrize("cidr", ["10.0.0.1/8", "10.0.0.0/33", "not-a-network", "", "fd00::1/8"])
def test_allowed_networks_must_be_networks(cidr: str) -> None:
    with pytest.raises(ValueError, match="CIDR"):
        webhook_targets.networks([cidr])
    with pytest.raises(SettingsError, match="PROCPLANE_WEBHOOK_ALLOWED_NETWORKS"):
        Settings(database_url="sqlite+aiosqlite:///x.db", webhook_allowed_networks=(cidr,))


def test_allowed_networks_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCPLANE_WEBHOOK_ALLOWED_NETWORKS", raising=False)
    assert load_settings().webhook_allowed_networks == ()
    monkeypatch.setenv("PROCPLANE_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8, 192.168.0.0/16 fd00::/8")
    assert load_settings().webhook_allowed_networks == ("10.0.0.0/8", "192.168.0.0/16", "fd00::/8")
    monkeypatch.setenv("PROCPLANE_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8,10.0.0.1/8")
    with pytest.raises(SettingsError, match="host bits"):
        load_settings()


# ---- resolution (through fake resolvers: real DNS cannot answer on demand) ----


async def fake_hanging_resolver(host: str, port: int) -> Sequence[str]:
    await asyncio.sleep(60)
    return []


def resolve(url: str, resolver: webhook_targets.Resolver, seconds: float = 1.0) -> tuple[webhook_targets.Address, ...]:
    return asyncio.run(webhook_targets.resolve(webhook_targets.parse(url), resolver, seconds))


def test_a_name_is_resolved_and_an_address_is_not() -> None:
    assert resolve("https://hooks.example.com/", fake_resolver("10.0.0.7", "::1", "10.0.0.7")) == (
        ipaddress.IPv4Address("10.0.0.7"), ipaddress.IPv6Address("::1"),
    )  # fmt: skip
    # An address, or localhost, is what it says: the resolver is not asked.
    assert resolve("http://0x7f.1/", fake_resolver("8.8.8.8")) == (ipaddress.IPv4Address("127.0.0.1"),)
    assert resolve("http://localhost/", fake_resolver("8.8.8.8"))[0] == ipaddress.IPv4Address("127.0.0.1")


def test_a_name_that_does_not_resolve_is_unresolved() -> None:
    with pytest.raises(webhook_targets.Unresolved, match="did not resolve"):
        resolve("https://hooks.example.com/", fake_failing_resolver)
    with pytest.raises(webhook_targets.Unresolved, match=r"within 0\.05 s"):
        resolve("https://hooks.example.com/", fake_hanging_resolver, 0.05)
    with pytest.raises(webhook_targets.Unresolved, match="no address"):
        resolve("https://hooks.example.com/", fake_resolver())


def test_the_system_resolver_resolves_localhost_names_from_the_hosts_file() -> None:
    answers = asyncio.run(webhook_targets.system_resolver("localhost", 80))
    assert answers
    assert all(ipaddress.ip_address(a).is_loopback for a in answers)
