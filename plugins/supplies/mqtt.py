"""Source ``gateway``: the RFID gateways and store sensors over MQTT, into the host's ingest.

Topics ``<prefix>/<store id>/rfid`` (a gateway message, see ``rfid``) and ``<prefix>/<store id>/env``
(``{"temperature", "humidity", "leak", "door", "ts"}``). paho's network thread only queues messages; this
source's thread decodes, stores (movements; environment readings through ``ctx.ingest``, so the host's
alert rules see them) and counts what it refused, with the reason in the log.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from . import env, rfid
from .model import SupplyError

log = logging.getLogger(__name__)


@dataclass
class Stats:
    rfid: int = 0
    env: int = 0
    rejected: int = 0
    last_error: str = ""
    errors: list[str] = field(default_factory=list)


class Gateway:
    """One paho client, subscribed to the stores' topics while the source runs."""

    def __init__(self, settings: Any, bus: Callable[[], Any]) -> None:
        self.s = settings
        self.bus = bus
        self.q: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=10000)
        self.stats = Stats()
        self.connected = False

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("supplies mqtt: refused by %s:%s: %s", self.s.mqtt_host, self.s.mqtt_port, reason)
            return
        client.subscribe([(f"{self.s.topic_prefix}/+/rfid", 1), (f"{self.s.topic_prefix}/+/env", 1)])
        self.connected = True

    def _on_message(self, _c: Any, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.q.put_nowait((msg.topic, bytes(msg.payload)))
        except queue.Full:
            self.stats.rejected += 1

    def handle(self, ctx: Any, topic: str, payload: bytes) -> None:
        """One message: stored, or refused with the reason logged and counted."""
        parts = topic[len(self.s.topic_prefix) + 1:].split("/")
        try:
            if len(parts) != 2 or parts[1] not in ("rfid", "env"):
                raise SupplyError(f"unexpected topic {topic!r}")
            try:
                body = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise SupplyError(f"not JSON: {exc}") from None
            if parts[1] == "rfid":
                rfid.receive(ctx.store, body, self.bus(), store_id=parts[0], source="mqtt")
                self.stats.rfid += 1
                ctx.heartbeat_state.beat(data=True)
            else:
                if not isinstance(body, dict):
                    raise SupplyError("an env message is a JSON object")
                st = ctx.store.entity(parts[0])
                if st is None or st.kind != "supply_store":
                    raise SupplyError(f"no store {parts[0]!r}", "topic")
                ts = float(body.get("ts") or time.time())
                ctx.ingest(env.readings(parts[0], body, ts, self.s, env.sensitive_stores(ctx.store, self.s)))
                self.stats.env += 1
        except SupplyError as exc:
            self.stats.rejected += 1
            self.stats.last_error = f"{topic}: {exc}"
            self.stats.errors = [*self.stats.errors[-19:], self.stats.last_error]
            log.warning("supplies mqtt: refused message on %s: %s", topic, exc)

    def run(self, ctx: Any) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.s.client_id, protocol=mqtt.MQTTv311,
                             clean_session=False)
        client.on_connect, client.on_message = self._on_connect, self._on_message
        client.reconnect_delay_set(0.5, 30)
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        try:
            while not ctx.stopping.is_set():
                try:
                    topic, payload = self.q.get(timeout=0.5)
                except queue.Empty:
                    ctx.heartbeat_state.beat(data=False)
                    continue
                self.handle(ctx, topic, payload)
        finally:
            client.disconnect()
            client.loop_stop()
