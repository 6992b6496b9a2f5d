"""Per-leg RTP figures from a loopback capture: packets/s, inter-packet gaps, skipped 20 ms frames.

A leg is one direction of one call leg, i.e. one UDP 5-tuple. Which kind of leg a flow is follows from its
ports: one end is a worker's RTP port (``--worker-ports``), the other a caller's or an agent's media port.

    python bench/rtpstats.py capture.pcap --worker-ports 23000-24999 --caller-ports 25000-25999 \
        --agent-ports 26000-26999
"""

from __future__ import annotations

import argparse
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LEG_KINDS = ("caller→worker", "worker→caller", "agent→worker", "worker→agent")
FRAME_TS = 160  # RTP timestamp units in one 20 ms PCMU frame


@dataclass
class Flow:
    src: tuple[str, int]
    dst: tuple[str, int]
    kind: str
    times: list[float] = field(default_factory=list)
    ts_jumps: int = 0  # frames the sender skipped (RTP timestamp advanced by more than one frame)
    seq_lost: int = 0  # packets missing by RTP sequence number
    _last_ts: int | None = None
    _last_seq: int | None = None

    def add(self, t: float, seq: int | None, ts: int | None) -> None:
        self.times.append(t)
        if ts is not None and self._last_ts is not None:
            delta = (ts - self._last_ts) & 0xFFFFFFFF
            if FRAME_TS < delta < 50 * 60 * FRAME_TS:  # ignore wrap-arounds / new SSRC epochs
                self.ts_jumps += delta // FRAME_TS - 1
        if seq is not None and self._last_seq is not None:
            dseq = (seq - self._last_seq) & 0xFFFF
            if 1 < dseq < 3000:
                self.seq_lost += dseq - 1
        self._last_ts, self._last_seq = ts, seq

    @property
    def packets(self) -> int:
        return len(self.times)

    @property
    def span(self) -> float:
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0

    @property
    def pps(self) -> float:
        return (len(self.times) - 1) / self.span if self.span > 0 else 0.0

    def gaps_ms(self) -> list[float]:
        t = self.times
        return [(t[i + 1] - t[i]) * 1000 for i in range(len(t) - 1)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def read_pcap(path: Path) -> Iterator[tuple[float, bytes]]:
    """(time, frame) of each packet of a classic pcap file (Ethernet or Linux cooked link type)."""
    with path.open("rb") as f:
        header = f.read(24)
        if len(header) < 24:
            return
        magic = struct.unpack("<I", header[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError(f"{path} is not a classic pcap file (write it with dumpcap -P)")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(endian + "I", header[20:24])[0]
        offset = {1: 14, 113: 16, 0: 4}.get(linktype)
        if offset is None:
            raise ValueError(f"{path}: link type {linktype} not supported")
        divisor = 1e9 if nano else 1e6
        record = struct.Struct(endian + "IIII")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = record.unpack(rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / divisor, data[offset:]


def parse_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.append((int(low), int(high or low)))
    return out


def in_ranges(port: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= port <= hi for lo, hi in ranges)


def flows(path: Path, worker: list[tuple[int, int]], caller: list[tuple[int, int]],
          agent: list[tuple[int, int]]) -> dict[tuple[str, int, str, int], Flow]:
    result: dict[tuple[str, int, str, int], Flow] = {}
    for t, ip in read_pcap(path):
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        src_ip = ".".join(str(b) for b in ip[12:16])
        dst_ip = ".".join(str(b) for b in ip[16:20])
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        rtp = ip[ihl + 8:]
        key = (src_ip, sport, dst_ip, dport)
        flow = result.get(key)
        if flow is None:
            if in_ranges(sport, worker):
                peer, to_worker = dport, False
            elif in_ranges(dport, worker):
                peer, to_worker = sport, True
            else:
                continue
            who = "caller" if in_ranges(peer, caller) else "agent" if in_ranges(peer, agent) else "other"
            kind = f"{who}→worker" if to_worker else f"worker→{who}"
            flow = result[key] = Flow((src_ip, sport), (dst_ip, dport), kind)
        seq = ts = None
        if len(rtp) >= 12 and rtp[0] >> 6 == 2:
            seq, ts = struct.unpack("!HI", rtp[2:8])
        flow.add(t, seq, ts)
    return result


def summarise(all_flows: dict[tuple[str, int, str, int], Flow], min_packets: int = 50) -> dict[str, dict[str, float]]:
    """Per leg kind: how many legs, packets/s (mean, min), p99 gap (median and worst leg, pooled), ..."""
    out: dict[str, dict[str, float]] = {}
    kinds = sorted({f.kind for f in all_flows.values()}, key=lambda k: (*LEG_KINDS, k).index(k))
    for kind in kinds:
        legs = [f for f in all_flows.values() if f.kind == kind and f.packets >= min_packets]
        if not legs:
            continue
        pooled: list[float] = []
        p99s = []
        for leg in legs:
            gaps = leg.gaps_ms()
            pooled.extend(gaps)
            p99s.append(percentile(gaps, 99))
        pps = [leg.pps for leg in legs]
        out[kind] = {
            "legs": len(legs),
            "packets": sum(leg.packets for leg in legs),
            "pps_mean": sum(pps) / len(pps),
            "pps_min": min(pps),
            "p99_gap_ms_median_leg": percentile(p99s, 50),
            "p99_gap_ms_worst_leg": max(p99s),
            "p99_gap_ms_pooled": percentile(pooled, 99),
            "p50_gap_ms_pooled": percentile(pooled, 50),
            "max_gap_ms": max(pooled) if pooled else float("nan"),
            "gaps_over_40ms": sum(1 for g in pooled if g > 40),
            "skipped_frames": sum(leg.ts_jumps for leg in legs),
            "seq_lost": sum(leg.seq_lost for leg in legs),
            "span_s_mean": sum(leg.span for leg in legs) / len(legs),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pcap", type=Path)
    parser.add_argument("--worker-ports", default="23000-24999")
    parser.add_argument("--caller-ports", default="25000-25999")
    parser.add_argument("--agent-ports", default="26000-26999")
    args = parser.parse_args()
    found = flows(args.pcap, parse_ranges(args.worker_ports), parse_ranges(args.caller_ports),
                  parse_ranges(args.agent_ports))
    print(json.dumps(summarise(found), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
