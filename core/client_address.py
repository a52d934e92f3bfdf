"""The address a dashboard request came from, believing X-Forwarded-For only from trusted proxies.

Streamlit reports the WebSocket peer (`st.context.ip_address`) and None for loopback, so None means
127.0.0.1 or ::1 here: the peer of a same-host reverse proxy, or a local browser. Behind a proxy the peer is
the proxy: when it is in LECTERN_TRUSTED_PROXIES, X-Forwarded-For is read right to left, skipping the
trusted hops, and the first address not trusted is the client (anything left of it could be forged by the
client). From any other peer the header is ignored: a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1"


def parse_networks(cidrs: Iterable[str | Network]) -> list[Network]:
    """Addresses and CIDR networks (host bits allowed: 10.0.0.1/8 is 10.0.0.0/8); ValueError names a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise ValueError(f"{str(cidr)!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)") from None
    return networks


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4-mapped IPv6 peer (::ffff:10.0.0.1) is the IPv4 address, so v4 CIDRs match it.
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address as a string; `forwarded_for` is every X-Forwarded-For header value, in order."""
    peer_ip = _ip(peer) if peer else ipaddress.ip_address(LOOPBACK)
    if peer_ip is None:
        return (peer or LOOPBACK)[:64]
    if not _trusted(peer_ip, trusted):
        return str(peer_ip)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer_ip
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:  # garbage in the chain: stop at the last address we could trust
            break
        client = hop_ip
        if not _trusted(hop_ip, trusted):
            break
    return str(client)
