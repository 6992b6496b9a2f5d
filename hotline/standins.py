"""Stand-ins for the worker contract that issue 12's worker hardening adds to ``telephony.pyvoip`` and
``telephony.leg``: ``SipWorker.probe`` and ``.failure``, and ``wait_confirmed`` on a caller's leg.
Supervision (``hotline.supervision``) and the rule "no case for an INVITE never ACKed"
(``routing.distributor``) are written against that contract; these let them run before it lands.

Each member is defined only where the real class lacks it, so once the hardening is merged this module adds
nothing. Delete it then: ``hotline.bootstrap`` builds ``SipWorker`` instead of ``ContractWorker`` and hands a
caller's leg to the distributor as it comes.
"""

from __future__ import annotations

import time
from typing import Any, cast

from routing.distributor import InboundLeg
from telephony.kamailio import sip_ping
from telephony.leg import LegState
from telephony.pyvoip import RfcvoipLeg, SipWorker


class ContractWorker(SipWorker):
    if not hasattr(SipWorker, "probe"):
        def probe(self, timeout: float = 1.0) -> Any:
            """One OPTIONS to the worker's SIP port from a fresh socket; any answer counts."""
            return sip_ping(self.host, self.sip_port, timeout)

    if not hasattr(SipWorker, "failure"):
        @property
        def failure(self) -> str | None:
            sip = self._phone.sip
            thread = sip.recv_thread
            if sip.NSD and thread is not None and not thread.is_alive():
                return "Its SIP receive thread has died."
            return None


class _ConfirmableLeg(RfcvoipLeg):
    def wait_confirmed(self, timeout: float) -> bool:
        """True once the caller's ACK to our 2xx has come: the adapter then no longer retransmits it."""
        sip = self._call.phone.sip
        deadline = time.monotonic() + timeout
        while True:
            state = self.state
            if state is LegState.ENDED:
                return False
            if state is LegState.ANSWERED:
                with sip._unacked_lock:
                    waiting = any(key[0] == self.call_id for key in sip._unacked)
                if not waiting:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def confirmable(leg: RfcvoipLeg) -> InboundLeg:
    """``leg`` as a caller's leg that says whether the caller confirmed our answer."""
    if hasattr(leg, "wait_confirmed"):
        return cast(InboundLeg, leg)
    return _ConfirmableLeg(leg._call, leg.direction, leg.remote)
