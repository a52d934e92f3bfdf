"""Which address a dashboard request is from: X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import pytest

from core.client_address import client_address, parse_networks
from core.settings import SettingsError, load_settings

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        (None, [], [], "127.0.0.1"),  # Streamlit reports loopback as None
        ("127.0.0.2", [], [], "127.0.0.2"),
        ("203.0.113.7", ["198.51.100.1"], PROXIES, "203.0.113.7"),  # untrusted peer: header ignored
        ("127.0.0.2", ["198.51.100.1"], PROXIES, "127.0.0.2"),
        (None, ["198.51.100.1"], PROXIES, "198.51.100.1"),  # same-host proxy (loopback) is trusted here
        ("10.1.2.3", ["1.1.1.1, 198.51.100.1, 10.9.9.9"], PROXIES, "198.51.100.1"),  # forged left part skipped
        ("10.1.2.3", ["1.1.1.1", "198.51.100.1"], PROXIES, "198.51.100.1"),  # repeated headers, in order
        ("10.1.2.3", ["10.2.2.2"], PROXIES, "10.2.2.2"),  # all hops trusted: the leftmost
        ("10.1.2.3", ["not-an-ip"], PROXIES, "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1:4711"], PROXIES, "198.51.100.1"),
        ("10.1.2.3", ["[2001:db8::1]:443"], PROXIES, "2001:db8::1"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], PROXIES, "198.51.100.1"),  # IPv4-mapped peer
        ("fd00::5", ["2001:db8::7"], PROXIES, "2001:db8::7"),
        ("10.1.2.3", [], PROXIES, "10.1.2.3"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], trusted: list, expected: str) -> None:  # type: ignore[type-arg]
    assert client_address(peer, forwarded, trusted) == expected


def test_trusted_proxies_setting_is_a_comma_separated_list_of_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().trusted_proxies == []
    monkeypatch.setenv("LECTERN_TRUSTED_PROXIES", " 10.0.0.0/8, 127.0.0.1 ,fd00::/8")
    assert [str(n) for n in load_settings().trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]
    monkeypatch.setenv("LECTERN_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(SettingsError, match=r"LECTERN_TRUSTED_PROXIES.*'proxy\.internal' is not an IP address"):
        load_settings()
