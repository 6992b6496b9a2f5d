"""Live transcript events: a small in-process publish/subscribe hub, one topic per call.

The transcription service publishes every partial and final segment of a call (already redacted) while
the call runs, and an ``end`` event once the call's final transcript is complete. Subscribers (the API's
Server-Sent Events endpoint) receive, on subscribing, what the call has said so far (its final segments and
each speaker's latest partial), then every new event, through a callback that must not block (the API
hands each event to its event loop). A watcher (``watch``) gets every event of every call: the service's
process feeds the API's process a copy of its hub this way (``hotline.control``), which ``apply`` rebuilds
there. Thread-safe; no third-party library.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from transcription.segments import Segment, SegmentRecognised

log = logging.getLogger(__name__)

OPEN, PARTIAL, FINAL, END = "open", "partial", "final", "end"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """``kind`` is "partial" (a guess the next event replaces), "final" (a segment of the transcript) or
    "end" (the call's transcript is complete; ``segment`` is None). Watchers (``LiveTranscripts.watch``)
    also get "open" (a call is known, nothing said yet; ``segment`` is None)."""

    call_id: str
    kind: str
    segment: Segment | None = None


Listener = Callable[[LiveEvent], object]


@dataclass
class _Topic:
    finals: list[Segment] = field(default_factory=list)
    partials: dict[str, Segment] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    ended: bool = False

    def replay(self, call_id: str) -> list[LiveEvent]:
        events = [LiveEvent(call_id, FINAL, s) for s in self.finals]
        events += [LiveEvent(call_id, PARTIAL, s) for s in self.partials.values()]
        if self.ended:
            events.append(LiveEvent(call_id, END))
        return events


class Subscription:
    def __init__(self, hub: LiveTranscripts, call_id: str, listener: Listener) -> None:
        self._hub, self.call_id, self._listener = hub, call_id, listener

    def close(self) -> None:
        self._hub._unsubscribe(self.call_id, self._listener)


class LiveTranscripts:
    """The hub. Calls are known from :meth:`open` until ``keep_ended`` more calls have ended after them."""

    def __init__(self, keep_ended: int = 100) -> None:
        self._topics: OrderedDict[str, _Topic] = OrderedDict()
        self._lock = threading.Lock()
        self._keep_ended = keep_ended
        self._watchers: list[Listener] = []

    def open(self, call_id: str) -> None:
        with self._lock:
            self._topic(call_id)

    def _topic(self, call_id: str) -> _Topic:
        """The call's topic, opened (and announced to the watchers) if it is new. Under the lock."""
        topic = self._topics.get(call_id)
        if topic is None:
            topic = self._topics[call_id] = _Topic()
            self._deliver(self._watchers, LiveEvent(call_id, OPEN))
        return topic

    def apply(self, event: LiveEvent) -> None:
        """Replay ``event`` from another hub's watcher: this hub then holds what that one holds."""
        if event.kind == OPEN:
            self.open(event.call_id)
        elif event.kind == END:
            self.close(event.call_id)
        elif event.segment is not None:
            self.publish(SegmentRecognised(event.call_id, event.segment, event.kind == FINAL))

    def watch(self, listener: Listener) -> Callable[[], None]:
        """Send ``listener`` every event of every call, first what each known call has said (its "open" and
        the replay a subscriber gets), then, in the order the hub took them, every new one. The listener is
        called under the hub's lock: it must only hand the event on (to a queue). Returns the function
        that stops it."""
        with self._lock:
            for call_id, topic in self._topics.items():
                listener(LiveEvent(call_id, OPEN))
                for event in topic.replay(call_id):
                    listener(event)
            self._watchers.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._watchers:
                    self._watchers.remove(listener)

        return stop

    def publish(self, event: SegmentRecognised) -> None:
        kind = FINAL if event.final else PARTIAL
        with self._lock:
            topic = self._topic(event.call_id)
            if topic.ended:
                return
            live = LiveEvent(event.call_id, kind, event.segment)
            self._deliver(self._watchers, live)
            if event.final:
                topic.finals.append(event.segment)
                topic.partials.pop(event.segment.speaker, None)
            else:
                topic.partials[event.segment.speaker] = event.segment
            listeners = list(topic.listeners)
        self._deliver(listeners, live)

    def close(self, call_id: str) -> None:
        """The call's transcript is complete: send ``end`` and forget the oldest ended calls."""
        with self._lock:
            topic = self._topic(call_id)
            if topic.ended:
                return
            self._deliver(self._watchers, LiveEvent(call_id, END))
            topic.ended = True
            topic.partials.clear()
            listeners = list(topic.listeners)
            ended = [cid for cid, t in self._topics.items() if t.ended]
            for cid in ended[: max(0, len(ended) - self._keep_ended)]:
                del self._topics[cid]
        self._deliver(listeners, LiveEvent(call_id, END))

    def subscribe(self, call_id: str, listener: Listener) -> Subscription | None:
        """Replay what the call said so far to ``listener``, then send it every new event; None for an
        unknown call (never opened here, or ended long ago)."""
        with self._lock:
            topic = self._topics.get(call_id)
            if topic is None:
                return None
            replay = topic.replay(call_id)
            if not topic.ended:
                topic.listeners.append(listener)
        self._deliver([listener], *replay)
        return Subscription(self, call_id, listener)

    def _unsubscribe(self, call_id: str, listener: Listener) -> None:
        with self._lock:
            topic = self._topics.get(call_id)
            if topic is not None and listener in topic.listeners:
                topic.listeners.remove(listener)

    def is_live(self, call_id: str) -> bool:
        with self._lock:
            topic = self._topics.get(call_id)
            return topic is not None and not topic.ended

    @staticmethod
    def _deliver(listeners: list[Listener], *events: LiveEvent) -> None:
        for listener in listeners:
            for event in events:
                try:
                    listener(event)
                except Exception:
                    log.exception("A live transcript listener failed.")
