"""Where the MQTT broker is: ``mqtt://[user[:password]@]host[:port]`` URLs, and the client.

The broker is chosen by URL, as the database is: an explicit URL, else
``PHACTORY_MQTT_URL``, else ``mqtt://127.0.0.1:1883`` (a local Mosquitto). Only plain
TCP (``mqtt://``, port 1883 by default) is spoken; a URL's password is never shown
(:meth:`BrokerUrl.masked`).

Clients speak MQTT 5.0 (OASIS, 2019) through paho-mqtt 2 with its version-2 callbacks:
reason codes on every acknowledgement (a PUBACK reason code >= 0x80 says the broker
refused a message, which 3.1.1 cannot say), the session expiry a persistent subscriber
needs, and the broker's Receive Maximum honoured by the publisher.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from phactory.errors import InvalidError

if TYPE_CHECKING:
    from paho.mqtt.client import Client

__all__ = [
    "DEFAULT_URL",
    "ENV_URL",
    "BrokerUrl",
    "ConnectionState",
    "clear_retained",
    "default_url",
    "make_client",
    "parse_url",
]

#: Where a publisher's or subscriber's connection to the broker is.
ConnectionState = Literal["new", "connecting", "connected", "disconnected", "closed"]

#: The environment variable naming the broker.
ENV_URL = "PHACTORY_MQTT_URL"
#: The broker when none is named: a local Mosquitto.
DEFAULT_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A broker's address and the credentials to give it."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None

    def masked(self) -> str:
        """The URL without its password, for messages and logs."""
        user = f"{self.username}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{user}{host}:{self.port}"

    def __str__(self) -> str:
        return self.masked()


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """``PHACTORY_MQTT_URL`` if set (and not empty), else :data:`DEFAULT_URL`."""
    env = os.environ if environ is None else environ
    return env.get(ENV_URL) or DEFAULT_URL


def parse_url(url: str) -> BrokerUrl:
    """The broker at ``url`` (``mqtt://[user[:password]@]host[:port]``).

    Raises
    ------
    InvalidError
        Another scheme, no host, a bad port, or a path, query or fragment.
    """
    shown = url if "@" not in url else "mqtt://***@" + url.rpartition("@")[2]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidError(f"MQTT URL {shown!r}: {exc}") from None
    if parts.scheme != "mqtt":
        raise InvalidError(
            f"MQTT URL {shown!r}: expected mqtt://host:port (only plain MQTT over TCP)"
        )
    if not parts.hostname:
        raise InvalidError(f"MQTT URL {shown!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidError(f"MQTT URL {shown!r}: a broker URL has no path, query or fragment")
    return BrokerUrl(
        host=parts.hostname,
        port=1883 if port is None else port,
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
    )


def make_client(
    broker: BrokerUrl,
    client_id: str,
    *,
    manual_ack: bool = False,
    reconnect_max_s: float | None = None,
) -> Client:
    """An MQTT 5.0 paho client (version-2 callbacks) with the broker's credentials;
    with ``reconnect_max_s``, reconnection attempts 1 s apart, growing up to that [s]."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if reconnect_max_s is not None:
        client.reconnect_delay_set(1, max(1, round(reconnect_max_s)))
    return client


def clear_retained(
    url: str, topics: Sequence[str], client_id: str, timeout_s: float = 10.0
) -> None:
    """Remove the messages retained on ``topics`` (an empty retained message clears a
    topic), e.g. the metadata of tags no longer published."""
    broker = parse_url(url)
    client = make_client(broker, client_id)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for info in [client.publish(t, b"", qos=1, retain=True) for t in topics]:
            info.wait_for_publish(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
