"""Inputs checked by their grammar, one place per kind: a bad value is one line that names the
setting and the fix, before anything changes. The standard library only."""

import ipaddress
import re

from . import ZenlockError

# Docker's reference grammar (github.com/distribution/reference):
#   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ["/" ...]
ALPHANUMERIC = r"[a-z0-9]+"
SEPARATOR = r"(?:[._]|__|-+)"
PATH_COMPONENT = rf"{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*"
DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN = rf"(?:{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
NAME = rf"(?:{DOMAIN}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*"
REFERENCE = rf"{NAME}(?::{TAG})?(?:@{DIGEST})?"
NAME_MAX = 255  # Docker's limit on a name (domain and path)


def image_reference(value: str, where: str) -> str:
    """An image reference as Docker parses it: [HOST[:PORT]/]PATH[:TAG][@DIGEST]."""
    head, _, last = value.split("@", 1)[0].rpartition("/")
    name = f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]
    if not re.fullmatch(REFERENCE, value) or len(name) > NAME_MAX:
        raise ZenlockError(
            f"{where} = {value!r} is not an image reference: use [HOST[:PORT]/]NAME[:TAG] with "
            "a lowercase NAME, e.g. python:3.11-slim-bookworm or ghcr.io/acme/base:1."
        )
    return value


def repository(value: str, where: str) -> str:
    """An image name without tag: a registry and namespace (HOST[:PORT][/PATH]) or a name."""
    if not re.fullmatch(NAME, value) or len(value) > NAME_MAX:
        raise ZenlockError(
            f"{where} = {value!r} is not an image name: use lowercase [HOST[:PORT]/]PATH, "
            "e.g. ghcr.io/acme, 127.0.0.1:5000/team or churn-model."
        )
    return value


def port_number(value: object, where: str) -> int:
    """A TCP port a server can listen on: 1 to 65535."""
    try:
        port = int(str(value))
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ZenlockError(f"{where} = {value!r} is not a port: use a number from 1 to 65535.")
    return port


# A host name by RFC 1123: dot-separated labels of letters, digits and inner hyphens, the
# last not all digits (so 999.1.1.1 is a bad address, not a name).
HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
HOSTNAME = rf"{HOST_LABEL}(?:\.{HOST_LABEL})*\.?"


def host_address(value: object, where: str) -> str:
    """An address or name to listen on: IPv4, IPv6 or a host name (localhost)."""
    text = str(value)
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    last = text.rstrip(".").rsplit(".", 1)[-1]
    if not re.fullmatch(HOSTNAME, text) or len(text) > 253 or last.isdigit():
        raise ZenlockError(
            f"{where} = {value!r} is not an address: use an IP address of this machine "
            "(127.0.0.1, the default, keeps the server private) or a host name."
        )
    return text


# mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]: user and password percent-encoded
# (RFC 3986 userinfo; a `:` may stay in the password, sqlalchemy splits at the first one).
MYSQL_URL = (
    r"mysql://(?P<user>(?:[^%:@/?#\[\]\s]|%[0-9A-Fa-f]{2})+)"
    r"(?::(?P<password>(?:[^%@/?#\[\]\s]|%[0-9A-Fa-f]{2})*))?"
    r"@(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"/(?P<database>[A-Za-z0-9_$-]+)(?:\?[^#\s]*)?"
)


def mysql_url(value: str, where: str) -> re.Match:
    """A MySQL/MariaDB URL's parts. Refused without repeating any of it: a password whose
    reserved characters are not percent-encoded would otherwise show up in the message."""
    found = re.fullmatch(MYSQL_URL, value)
    if not found or (found["port"] and not 1 <= int(found["port"]) <= 65535):
        raise ZenlockError(
            f"{where} is not mysql://USER:PASSWORD@HOST:PORT/DATABASE (shown nowhere: it holds a "
            "password). Percent-encode reserved characters in the user and password: "
            "/ %2F, # %23, ? %3F, @ %40, : %3A, % %25, [ %5B, ] %5D, space %20."
        )
    return found


def is_loopback(host: str) -> bool:
    """A host only this machine reaches: 127.0.0.0/8, ::1 or the name localhost."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_url(host: str, port: int) -> str:
    """The URL of a server that listens at host:port: an IPv6 address in brackets (RFC 3986),
    its zone's `%` percent-encoded."""
    if ":" in host:
        host = f"[{host.replace('%', '%25')}]"
    return f"http://{host}:{port}"


# http(s)://HOST[:PORT][/PATH] by RFC 3986: HOST a name, an IPv4 or a bracketed IPv6 address;
# each path segment of unreserved, sub-delimiter, ':' and percent-encoded characters. No
# userinfo (user:password@), query or fragment: a server URL carries no credential or state.
PATH_CHARACTER = r"(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})"
SERVER_URL = (
    r"(?P<origin>(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    rf"(?::(?P<port>[0-9]{{1,5}}))?)(?P<path>(?:/{PATH_CHARACTER}+)*)/?"
)


def server_url(value: str, where: str, *, allow_http: bool = False) -> tuple[str, str]:
    """A server's URL, http(s)://HOST[:PORT][/PATH], without a trailing slash, and its origin
    (scheme, host and port: what a browser sends as Origin). Plain HTTP only to this machine
    (loopback) unless `allow_http`: passwords and tokens would cross the network in clear."""
    found = re.fullmatch(SERVER_URL, value)
    host = found["host"].strip("[]") if found else ""
    try:
        ok = (
            bool(found)
            and host_address(host, where)
            and (":" in host) == found["host"].startswith("[")  # brackets for IPv6 only
            and (not found["port"] or 1 <= int(found["port"]) <= 65535)
            and not {".", ".."} & set(found["path"].split("/"))
        )
    except ZenlockError:
        ok = False
    if not ok:
        shown = re.sub(r"//[^/@]*@", "//(a user or password, not shown)@", value)
        raise ZenlockError(
            f"{where} = {shown!r} is not a server URL: use http(s)://HOST[:PORT][/PATH], "
            "e.g. https://zenml.example.com, with no user, query, fragment or dot segment."
        )
    if found["scheme"] == "http" and not allow_http and not is_loopback(host):
        raise ZenlockError(
            f"{where} = {value!r} is plain HTTP to another machine: passwords and tokens "
            "would cross the network in clear. Use https://, or add --allow-http if you "
            "trust every network in between."
        )
    return f"{found['origin']}{found['path']}", found["origin"]


# A Kubernetes object name (RFC 1123 subdomain): lowercase labels of letters, digits and inner
# hyphens, joined by dots, 253 characters at most.
KUBERNETES_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


def kubernetes_name(value: str, where: str) -> str:
    if not re.fullmatch(rf"{KUBERNETES_LABEL}(?:\.{KUBERNETES_LABEL})*", value) or len(value) > 253:
        raise ZenlockError(
            f"{where} = {value!r} is not a Kubernetes name: use lowercase letters, digits, '-' "
            "and '.', starting and ending with a letter or digit, e.g. churn-model-server."
        )
    return value


# The platforms an image is built for (Docker's OS/ARCH[/VARIANT]): Linux, on the machines
# uv installs wheels for; a value -> (its canonical name, uv's --python-platform).
PLATFORMS = {
    "linux/amd64": ("linux/amd64", "x86_64-unknown-linux-gnu"),
    "linux/arm64": ("linux/arm64", "aarch64-unknown-linux-gnu"),
    "linux/arm64/v8": ("linux/arm64", "aarch64-unknown-linux-gnu"),
}


def platforms(value: object, where: str) -> tuple[str, ...]:
    """A comma-separated list (or a list) of platforms, canonical and each once, e.g.
    ("linux/amd64", "linux/arm64")."""
    items = value.split(",") if isinstance(value, str) else value
    items = items if isinstance(items, list | tuple) else [items]
    found = [PLATFORMS.get(str(item).strip(), ("", ""))[0] for item in items]
    if not items or not all(found) or len(set(found)) != len(found):
        raise ZenlockError(
            f"{where} = {value!r} is not a list of platforms: use each of linux/amd64 and "
            "linux/arm64 at most once, comma-separated, e.g. linux/amd64,linux/arm64."
        )
    return tuple(found)
