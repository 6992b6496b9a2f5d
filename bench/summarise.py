"""Markdown table of several ``bench/calls.py`` runs, from their ``results.json``.

    python bench/summarise.py /tmp/hotline-bench-*/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(path: Path) -> str:
    r = json.loads(path.read_text())
    a, c, cpu, rss, rtp = r["args"], r["calls"], r["cpu"], r["rss"], r.get("rtp", {})

    def leg(kind: str, key: str, digits: int = 1) -> str:
        v = rtp.get(kind, {}).get(key)
        return "-" if v is None else f"{v:.{digits}f}"

    sent = [k for k in ("worker→caller", "worker→agent") if k in rtp]
    skipped = sum(rtp[k]["skipped_frames"] for k in sent)
    cells = [
        f"{a['calls']}", f"{a['duration']:g}", f"{a['workers']}", "on" if a["transcribe"] else "off",
        f"{c['completed']}/{c['failed']}",
        f"{leg('caller→worker', 'pps_mean', 2)} / {leg('worker→caller', 'pps_mean', 2)} / "
        f"{leg('agent→worker', 'pps_mean', 2)} / {leg('worker→agent', 'pps_mean', 2)}",
        f"{leg('caller→worker', 'p99_gap_ms_pooled')} / {leg('worker→caller', 'p99_gap_ms_pooled')} / "
        f"{leg('agent→worker', 'p99_gap_ms_pooled')} / {leg('worker→agent', 'p99_gap_ms_pooled')}",
        f"{skipped}",
        f"{cpu['service_per_call_s']:.2f} s / {cpu['service_per_call_second_ms']:.1f} ms",
        f"{100 * (cpu['service_cores_during_calls'] or 0):.0f} %",
        f"{cpu['kamailio_per_call_second_ms']:.2f} ms",
        f"{rss['start_mb']:.0f} → {rss['end_mb']:.0f} (peak {rss['max_mb']:.0f})",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    print("| N | s | W | Vosk | done/failed | pkt/s c→w / w→c / a→w / w→a | p99 gap ms (same order) | skipped "
          "frames (w→) | service CPU per call / per call-s | service core | Kamailio per call-s | RSS MB |")
    print("|" + "---|" * 12)
    for name in sys.argv[1:]:
        print(row(Path(name)))


if __name__ == "__main__":
    main()
