"""Egress: which URLs ``collect`` may fetch, and which addresses it may connect to.

Invariant: ``Egress.check(url)`` grants a URL only when its host matches an
allow pattern (a name, a ``*.suffix`` wildcard, an IP or CIDR range, each
optionally with ``:port``) and **every** address the host resolves to is
acceptable: inside an allowed range when the host was granted by address,
and never link-local or a cloud metadata address (169.254.0.0/16, fe80::/10,
fd00:ec2::254) unless an address pattern lying wholly inside that range names
it. A name that matches no pattern is refused before any DNS lookup. The
grant lists the checked addresses, and ``llm_metrics.fetch`` connects only to
one of them (no second lookup, so a DNS answer that changes between the check
and the connection cannot redirect it). These are the rules of the Rust host
(``serve``'s allow-list and the host's address rules), in Python.

Without an allow-list (``allow=None``) a URL may reach its own ``host:port``
only, under the same address rules: what ``llm-metrics collect URL`` does.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from .errors import LlmMetricsError

IpNet = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IpAddr = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

SENSITIVE: Tuple[IpNet, ...] = tuple(
    ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
)
"""Refused unless named by an address pattern inside them: link-local and metadata."""

_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm-metrics-dns")


def _valid_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _canonical(ip: IpAddr) -> IpAddr:
    """An IPv4-mapped IPv6 address as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class Pattern:
    """One allow-list entry: ``vllm-0.internal:8000``, ``*.svc.cluster.local``,
    ``10.0.0.0/8``, ``[fd00::/8]:9400``, ``127.0.0.1``."""

    name: Optional[str] = None
    suffix: Optional[str] = None
    net: Optional[IpNet] = None
    port: Optional[int] = None

    @classmethod
    def parse(cls, spec: str) -> "Pattern":
        """Read a pattern; a bad one is ``ValueError``."""
        s = spec.strip()
        port: Optional[str] = None
        if s.startswith("["):
            host, sep, after = s[1:].partition("]")
            if not sep or (after and not after.startswith(":")):
                raise ValueError(f"`{spec}` is not an allow pattern")
            port = after[1:] if after else None
        elif s.count(":") == 1:
            host, port = s.split(":")
        else:
            host = s
        port_n = None
        if port is not None:
            if not port.isdigit() or int(port) > 65535:
                raise ValueError(f"`{spec}`: bad port")
            port_n = int(port)
        if "/" in host:
            try:
                return cls(net=ipaddress.ip_network(host, strict=False), port=port_n)
            except ValueError:
                raise ValueError(f"`{spec}`: bad CIDR range") from None
        try:
            ip = _canonical(ipaddress.ip_address(host))
            return cls(net=ipaddress.ip_network(ip), port=port_n)
        except ValueError:
            pass
        if host.startswith("*."):
            if not _valid_name(host[2:]):
                raise ValueError(f"`{spec}`: bad wildcard suffix")
            return cls(suffix="." + host[2:].lower(), port=port_n)
        if not _valid_name(host):
            raise ValueError(f"`{spec}`: bad host name")
        return cls(name=host.lower(), port=port_n)

    def port_ok(self, port: int) -> bool:
        """The pattern allows ``port``."""
        return self.port is None or self.port == port

    def matches_name(self, host: str, port: int) -> bool:
        """The host *name* matches this name or wildcard pattern."""
        if not self.port_ok(port):
            return False
        if self.name is not None:
            return self.name == host
        return self.suffix is not None and host.endswith(self.suffix)


@dataclass(frozen=True)
class Destination:
    """A URL's scheme, lower-case host (no brackets), port and request target."""

    scheme: str
    host: str
    port: int
    target: str
    authority: str

    @classmethod
    def parse(cls, url: str) -> "Destination":
        """An absolute http(s) URL without credentials, or ``invalid-url``."""
        def invalid(why: str) -> LlmMetricsError:
            return LlmMetricsError("invalid-url", f"`{url}`: {why}")

        if any(c in url for c in "\r\n\t ") or not url.isprintable():
            raise invalid("whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise invalid(str(e)) from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise invalid("only http and https are supported")
        if "@" in parts.netloc:
            raise invalid("credentials in the URL are not supported; send a header instead")
        host = (parts.hostname or "").lower()
        if not host:
            raise invalid("no host")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return cls(scheme, host, port if port is not None else (443 if scheme == "https" else 80),
                   target, parts.netloc)


@dataclass(frozen=True)
class Grant:
    """What a check allows: the destination and the addresses checked for it."""

    destination: Destination
    addresses: List[IpAddr]


class Egress:
    """An allow-list of patterns; ``None`` allows each URL's own host and port."""

    def __init__(self, allow: Optional[Iterable[str]] = None, resolve_timeout: float = 5.0):
        self.patterns: Optional[List[Pattern]] = (
            None if allow is None else [Pattern.parse(p) for p in allow])
        self.resolve_timeout = resolve_timeout

    def check(self, url: str, timeout: Optional[float] = None) -> Grant:
        """The checked destination of ``url`` (``denied``, ``invalid-url``,
        ``connect`` or ``timeout`` otherwise). Resolves the host if it is a
        name, within ``timeout`` (at most ``resolve_timeout``) seconds."""
        dest = Destination.parse(url)
        budget = self.resolve_timeout if timeout is None else min(timeout, self.resolve_timeout)

        def denied(why: str) -> LlmMetricsError:
            return LlmMetricsError("denied", f"{dest.host}:{dest.port}: {why}")

        try:
            literal: Optional[IpAddr] = _canonical(ipaddress.ip_address(dest.host))
        except ValueError:
            literal = None
        patterns = self.patterns
        if patterns is None:
            # The URL's own host: any address but link-local and metadata ones
            # (a URL is not an embedder naming an address).
            patterns, by_name = [], True
        elif literal is not None:
            by_name = False
        else:
            by_name = any(p.matches_name(dest.host, dest.port) for p in patterns)
            by_addr = any(p.net is not None and p.port_ok(dest.port) for p in patterns)
            if not by_name and not by_addr:
                raise denied("not on the allow-list")
        addrs = [literal] if literal is not None else resolve(dest.host, dest.port, budget)
        for ip in addrs:
            why = check_address(patterns, ip, dest.port, by_name)
            if why is not None:
                raise denied(why)
        return Grant(dest, addrs)


def check_address(patterns: Sequence[Pattern], ip: IpAddr, port: int, by_name: bool) -> Optional[str]:
    """Why ``ip:port`` may not be reached, or ``None`` when it may."""
    nets = [p.net for p in patterns if p.net is not None and p.port_ok(port)]

    def listed(inside: Optional[IpNet]) -> bool:
        return any(
            ip.version == n.version and ip in n
            and (inside is None or (n.version == inside.version and n.subnet_of(inside)))  # type: ignore[arg-type]
            for n in nets)

    if not by_name and not listed(None):
        return f"address {ip} is not on the allow-list"
    for sensitive in SENSITIVE:
        if ip.version == sensitive.version and ip in sensitive and not listed(sensitive):
            return (f"address {ip} is link-local or a metadata address ({sensitive}); "
                    "allow it by address to reach it")
    return None


def resolve(host: str, port: int, timeout: float) -> List[IpAddr]:
    """Every address ``host`` resolves to (``connect`` or ``timeout`` otherwise)."""
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise LlmMetricsError("timeout", f"DNS lookup of {host}") from None
    except OSError as e:
        raise LlmMetricsError("connect", f"DNS error for {host}: {e}") from None
    seen: List[IpAddr] = []
    for info in infos:
        ip = _canonical(ipaddress.ip_address(info[4][0].split("%")[0]))
        if ip not in seen:
            seen.append(ip)
    if not seen:
        raise LlmMetricsError("connect", f"{host} resolved to no address")
    return seen
