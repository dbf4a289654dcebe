"""The MQTT ingest source: a paho-mqtt client as a ``SourceSpec(run=...)`` loop.

* Subscribes ``<prefix>/+/+/+/data`` with QoS 1 on a persistent MQTT 5 session (stable client id,
  ``clean_start=False``, session expiry), so messages published while it was away are delivered
  when it comes back.
* paho's network thread only frames the messages of each socket read and queues them; the source
  thread decodes and validates them (:mod:`.payloads`) while a burst lasts, stores the batch through
  ``ctx.ingest`` and only then acknowledges it (manual PUBACK): a crash between receipt and commit
  means redelivery, never loss. Redelivered readings carry the device's own timestamp, and the store
  ignores a (series, ts) it already has: no duplicates. (Decoding on the network thread while the
  source thread stored made the two threads take turns on the interpreter lock at every database row.)
* Malformed, oversized and unknown-device messages are counted, logged with their topic
  (rate-limited) and acknowledged so they are not redelivered forever; they never become readings.
* When the broker goes away paho reconnects with exponential back-off (``reconnect_delay_set``),
  re-subscribing in ``on_connect``.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.api import Reading

from .payloads import Decoder, Device, Rejected

log = logging.getLogger(__name__)
_PUBACK = struct.Struct("!BBH")


@dataclass
class IngestStats:
    """Counters of one ingest client, shown by the devices panel and /api-free tests."""

    messages: int = 0
    accepted: int = 0
    readings_stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    oversized: int = 0
    unknown: int = 0
    connects: int = 0
    disconnects: int = 0
    connected: bool = False
    last_message: float | None = None
    recent_rejections: deque = field(default_factory=lambda: deque(maxlen=20))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rejected(self, r: Rejected) -> None:
        with self.lock:
            setattr(self, r.kind, getattr(self, r.kind) + 1)
            self.recent_rejections.appendleft((time.time(), r.kind, r.topic, r.reason))

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {k: getattr(self, k) for k in ("messages", "accepted", "readings_stored", "duplicates",
                                                   "malformed", "oversized", "unknown", "connects",
                                                   "disconnects", "connected", "last_message")}


#: stats per "plugin.source" key, so panels (same process) can show them
STATS: dict[str, IngestStats] = {}


class _LogLimiter:
    """At most ``burst`` warnings per ``window_s``; then one line saying how many were suppressed."""

    def __init__(self, burst: int = 20, window_s: float = 10.0) -> None:
        self.burst, self.window_s = burst, window_s
        self.t0, self.n, self.suppressed = 0.0, 0, 0

    def warn(self, r: Rejected) -> None:
        now = time.monotonic()
        if now - self.t0 > self.window_s:
            if self.suppressed:
                log.warning("mqtt: %d more rejected messages not logged in the last %.0fs", self.suppressed,
                            self.window_s)
            self.t0, self.n, self.suppressed = now, 0, 0
        self.n += 1
        if self.n <= self.burst:
            log.warning("mqtt: %s message on topic %s: %s", r.kind, r.topic, r.reason)
        else:
            self.suppressed += 1


class BufferedClient(mqtt.Client):
    """paho reads each packet with up to four ``recv()`` calls after one ``select()``; a busy host then
    spends its time waking the thread per message. This client reads up to 256 KiB per ``recv()``
    and parses every complete packet in the buffer per wake-up. It relies on paho 2's ``_sock_recv``
    and ``loop_read`` (pinned ``paho-mqtt>=2,<3``); the parsing itself stays paho's.
    """

    _RECV = 262144

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf, self._rpos, self._rsock = b"", 0, None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:          # a new connection: never parse bytes of the old one
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(self._RECV)
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        out = self._rbuf[self._rpos:self._rpos + bufsize]
        self._rpos += len(out)
        return out

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """paho's PUBLISH handling minus its per-message MQTT 5 ``Properties`` object (the costliest part),
        for the usual QoS 0/1 message without properties; anything else goes through paho unchanged."""
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        try:
            slen = (packet[0] << 8) | packet[1]
            pos = 2 + slen
            topic = bytes(packet[2:pos])
            mid = 0
            if qos:
                mid = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
            if self._protocol == mqtt.MQTTv5:
                if packet[pos] != 0:
                    return super()._handle_publish()
                pos += 1
        except IndexError:
            return super()._handle_publish()          # paho reports the malformed packet its own way
        if qos == 2 or not topic or pos > len(packet):
            return super()._handle_publish()
        message = mqtt.MQTTMessage(mid=mid, topic=topic)
        message.dup, message.qos, message.retain = bool(header & 0x08), qos, bool(header & 0x01)
        message.payload = bytes(packet[pos:])
        message.timestamp = time.monotonic()
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        """PUBACK (QoS 1) every mid in one queued write: paho's ``ack()`` wakes its loop once per message."""
        if not mids:
            return
        if not hasattr(self, "_packet_queue"):          # a future paho without it: the public, slower path
            for mid in mids:
                self.ack(mid, 1)
            return
        packet = b"".join(_PUBACK.pack(0x40, 2, mid) for mid in mids)
        self._packet_queue(0x40, packet, 0, 1)

    #: called once per network read as ``fast_handler(topics, payloads, qos1_mids)`` with the plain QoS 0/1
    #: PUBLISH packets parsed straight from the buffer, in arrival order: their topics and payloads (bytes)
    #: and the packet ids of the QoS-1 ones (no MQTTMessage, no topic-filter matching, no object per
    #: message); None: paho's path, one message at a time
    fast_handler: Callable[[list[bytes], list[bytes], list[int]], None] | None = None

    def _fast_publishes(self) -> None:
        """Handle every complete, property-less QoS 0/1 PUBLISH at the head of the buffer; stop at anything
        else (other packets, partial packets, a packet paho is half-way through) and leave it to paho."""
        buf, pos, end = self._rbuf, self._rpos, len(self._rbuf)
        v5 = self._protocol == mqtt.MQTTv5
        topics: list[bytes] = []
        payloads: list[bytes] = []
        mids: list[int] = []
        while pos < end and self._in_packet["command"] == 0:
            h = buf[pos]
            if h & 0xF0 != 0x30 or h & 0x06 == 0x06 or (h & 0x06) >> 1 == 2:
                break
            i, mult, rl = pos + 1, 1, 0
            while i < end and i < pos + 5:
                b = buf[i]
                rl += (b & 127) * mult
                mult *= 128
                i += 1
                if not b & 128:
                    break
            else:
                break
            if b & 128 or i + rl > end:
                break
            qos = (h & 0x06) >> 1
            p, stop = i, i + rl
            if p + 2 > stop:
                break
            slen = (buf[p] << 8) | buf[p + 1]
            p += 2
            topic = buf[p:p + slen]
            p += slen
            mid = 0
            if qos:
                if p + 2 > stop:
                    break
                mid = (buf[p] << 8) | buf[p + 1]
                p += 2
            if v5:
                if p >= stop or buf[p] != 0:
                    break                      # has properties (or is broken): paho's own path
                p += 1
            if not topic or p > stop:
                break
            pos = stop
            topics.append(topic)
            payloads.append(buf[p:stop])
            if qos:
                mids.append(mid)
        self._rpos = pos
        if topics:
            with self._msgtime_mutex:
                self._last_bytes_received = time.monotonic()
            self.fast_handler(topics, payloads, mids)  # type: ignore[misc]
            if not self._manual_ack:
                for mid in mids:
                    self._send_puback(mid)

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None \
                and self._rsock is self._sock and self._rpos < len(self._rbuf):
            if self.fast_handler is not None:
                self._fast_publishes()
                if self._rpos >= len(self._rbuf):
                    break
            rc = super().loop_read(1)
        return rc


#: one network read as queued for the source thread: topics, payloads, QoS-1 packet ids, connection number
_Frames = tuple[list[bytes], list[bytes], list[int], int]


@dataclass
class _Batch:
    """Decoded messages on their way to the store: readings, and per network read the QoS-1 mids to PUBACK."""

    readings: list[Reading] = field(default_factory=list)
    acks: list[tuple[int, list[int]]] = field(default_factory=list)
    messages: int = 0
    accepted: int = 0
    rejected: int = 0


class MqttIngest:
    """One MQTT client feeding readings of registered devices into an ingest function."""

    def __init__(self, *, host: str, port: int | Callable[[], int], devices: dict[str, Device] | Callable[[], dict[str, Device]],
                 client_id: str, prefix: str = "twinboard/ep", qos: int = 1, max_bytes: int = 2048,
                 flush_s: float = 0.5, linger_s: float = 0.1, idle_s: float = 0.005, batch_max: int = 20000,
                 keepalive: int = 20,
                 session_expiry_s: int = 86400, backoff: tuple[int, int] = (1, 30),
                 registry_refresh_s: float = 60.0, stats: IngestStats | None = None,
                 max_age_s: float = 7 * 86400, max_skew_s: float = 300, protocol: str = "5") -> None:
        self.host, self._port, self._devices = host, port, devices
        self.client_id, self.prefix, self.qos = client_id, prefix, qos
        self.max_bytes, self.flush_s, self.linger_s, self.batch_max = max_bytes, flush_s, linger_s, batch_max
        self.idle_s = idle_s
        self.keepalive, self.session_expiry_s, self.backoff = keepalive, session_expiry_s, backoff
        self.registry_refresh_s = registry_refresh_s
        self.max_age_s, self.max_skew_s = max_age_s, max_skew_s
        if protocol not in ("5", "3.1.1"):
            raise ValueError(f"protocol must be '5' or '3.1.1', not {protocol!r}")
        self.protocol = protocol
        self.stats = stats or IngestStats()
        #: what the network thread framed and the source thread has not decoded yet: per network read, its
        #: topics, payloads, QoS-1 packet ids and the connection number it came on
        self._inbox: list[_Frames] = []
        self._generation = 0              # connection number: a PUBACK only goes to the connection that got the PUBLISH
        self._lock = threading.Lock()
        self._arrived = threading.Event()       # the inbox is not empty
        self._limiter = _LogLimiter()
        self.decoder = Decoder({}, prefix, max_bytes, max_age_s, max_skew_s)
        self.client: mqtt.Client | None = None

    # -- paho callbacks (network thread) ------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt: connection to %s:%s refused: %s", self.host, self.port, reason)
            return
        with self.stats.lock:
            self.stats.connects += 1
            self.stats.connected = True
        with self._lock:
            self._generation += 1
        client.subscribe(self.decoder.subscription(), qos=self.qos)
        log.info("mqtt: connected to %s:%s, subscribed %s", self.host, self.port, self.decoder.subscription())

    def _on_disconnect(self, _c: Any, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self.stats.lock:
            if self.stats.connected:
                self.stats.disconnects += 1
            self.stats.connected = False
        log.warning("mqtt: disconnected from %s:%s (%s); reconnecting with back-off", self.host, self.port, reason)

    def _on_message(self, _c: Any, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        """paho's own path (a packet with properties, QoS 2...): one message."""
        self._on_messages([msg._topic], [msg.payload], [msg.mid] if msg.qos == 1 else [])

    def _on_messages(self, topics: list[bytes], payloads: list[bytes], qos1_mids: list[int]) -> None:
        """The messages of one network read, as framed: queued for the source thread (one lock, one wake-up).

        Nothing is decoded here. Decoding is pure-Python work like the store's, and both hold the one
        interpreter lock: decoding on this thread while the source thread stores made the two take turns
        at every row the database wrote, several times slower than doing them one after the other."""
        with self._lock:
            self._inbox.append((topics, payloads, qos1_mids, self._generation))
            self._arrived.set()
        with self.stats.lock:
            self.stats.messages += len(topics)

    # -- the loop (source thread) ----------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port() if callable(self._port) else self._port

    def _refresh_registry(self) -> None:
        devices = self._devices() if callable(self._devices) else self._devices
        self.decoder.devices = dict(devices)

    def _make_client(self) -> mqtt.Client:
        v5 = self.protocol == "5"
        client = BufferedClient(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=True,
                                clean_session=None if v5 else False)
        client.on_connect, client.on_disconnect, client.on_message = (self._on_connect, self._on_disconnect,
                                                                      self._on_message)
        client.fast_handler = self._on_messages
        client.reconnect_delay_set(min_delay=self.backoff[0], max_delay=self.backoff[1])
        client.max_inflight_messages_set(1000)
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = 65535      # the broker may send this many unacknowledged QoS-1 messages
            client.connect_async(self.host, self.port, keepalive=self.keepalive, clean_start=False,
                                 properties=props)
        else:
            client.connect_async(self.host, self.port, keepalive=self.keepalive)
        return client

    def _take(self, limit: int | None = None) -> list[_Frames]:
        """Network reads from the inbox, oldest first: all of them, or as many as make ``limit`` messages."""
        with self._lock:
            if limit is None:
                chunks, self._inbox = self._inbox, []
            else:
                n, k = 0, 0
                while k < len(self._inbox) and n < limit:
                    n += len(self._inbox[k][0])
                    k += 1
                chunks, self._inbox = self._inbox[:k], self._inbox[k:]
            if not self._inbox:
                self._arrived.clear()
        return chunks

    def _decode(self, chunks: list[_Frames], batch: _Batch) -> None:
        """Decode and validate queued messages into ``batch``; rejections are counted and logged now."""
        decode, readings = self.decoder.decode_batch, batch.readings
        now = time.time()
        for topics, payloads, mids, generation in chunks:
            rejected = decode(topics, payloads, now, readings)
            batch.acks.append((generation, mids))
            batch.messages += len(topics)
            batch.accepted += len(topics) - len(rejected)
            batch.rejected += len(rejected)
            for _, r in rejected:
                self.stats.rejected(r)
                self._limiter.warn(r)

    def _gather(self) -> _Batch:
        """Decode what has arrived and keep gathering while the burst lasts: until the batch holds
        ``batch_max`` messages, ``linger_s`` has passed, or nothing new arrived for ``idle_s``."""
        batch = _Batch()
        deadline = time.monotonic() + self.linger_s
        while True:
            chunks = self._take(self.batch_max - batch.messages)
            if chunks:
                self._decode(chunks, batch)
            if batch.messages >= self.batch_max:
                return batch
            left = deadline - time.monotonic()
            if left <= 0 or not self._arrived.wait(min(self.idle_s, left)):
                return batch

    def _store(self, batch: _Batch, ingest: Callable[[list[Reading]], int]) -> int:
        """Store a batch, then acknowledge its messages (in arrival order). Returns messages handled.
        If the store raises nothing is acknowledged: the broker redelivers the messages."""
        if batch.readings:
            written = ingest(batch.readings)
            with self.stats.lock:
                self.stats.readings_stored += written
                self.stats.duplicates += len(batch.readings) - written
                self.stats.accepted += batch.accepted
                self.stats.last_message = time.time()
        client = self.client
        if client is not None and batch.acks:
            with self._lock:
                generation = self._generation
            # after a reconnect the broker redelivers unacknowledged messages itself (stored once)
            client.ack_many([mid for gen, mids in batch.acks if gen == generation for mid in mids])
        return batch.messages

    def flush(self, ingest: Callable[[list[Reading]], int]) -> int:
        """Decode, store and acknowledge everything that has arrived, without waiting for more."""
        batch = _Batch()
        self._decode(self._take(), batch)
        return self._store(batch, ingest)

    def run_with(self, ingest: Callable[[list[Reading]], int], stopping: threading.Event,
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        """Run until ``stopping`` is set; raises only for programming errors or a failing store."""
        self._refresh_registry()
        last_refresh = time.monotonic()
        self.client = self._make_client()
        self.client.loop_start()          # paho's thread: connect, retry with back-off, read, frame
        try:
            while not stopping.is_set():
                # Sleep until messages arrive (or flush_s passes); decode them as they come while the burst
                # lasts, then store and acknowledge; meanwhile paho's thread keeps reading the next ones.
                if self._arrived.wait(self.flush_s):
                    self._store(self._gather(), ingest)
                else:
                    heartbeat()
                if time.monotonic() - last_refresh > self.registry_refresh_s:
                    self._refresh_registry()
                    last_refresh = time.monotonic()
            self.flush(ingest)
        finally:
            client, self.client = self.client, None
            try:
                client.disconnect()
            finally:
                client.loop_stop()
            with self.stats.lock:
                self.stats.connected = False

    def run(self, ctx: Any) -> None:
        """The ``SourceSpec.run`` entry: ``ctx.ingest`` stores, publishes and runs the alert rules."""
        self.run_with(ctx.ingest, ctx.stopping, ctx.heartbeat)
