"""Make a pcap of G.711 μ-law RTP (20 ms packets) for sipp's ``play_pcap_audio``.

The audio is espeak-ng speech turned into 8 kHz μ-law by sox, looped with a pause between sentences
until the requested duration is filled. The packets are Ethernet/IPv4/UDP/RTP on 127.0.0.1 (sipp rewrites
addresses and ports when it plays them). Nothing here is a recording: every pcap is generated.

    python bench/make_pcap.py --text "my printer is not working" --seconds 60 caller.pcap
"""

from __future__ import annotations

import argparse
import random
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
ULAW_SILENCE = 0xFF
CALLER_TEXT = ("Hello, my printer is not working and I cannot print my report. "
               "My password does not work either and my computer will not start.")
AGENT_TEXT = ("Good morning, this is the helpdesk, how can I help you? "
              "Please restart the computer and try to log in again.")


def speech_ulaw(text: str, workdir: Path, voice: str = "en-us") -> bytes:
    """``text`` spoken by espeak-ng as raw 8 kHz mono μ-law bytes."""
    for binary in ("espeak-ng", "sox"):
        if shutil.which(binary) is None:
            raise SystemExit(f"{binary} is not installed (Debian packages espeak-ng and sox)")
    wav = workdir / "speech.wav"
    raw = workdir / "speech.ulaw"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sox", str(wav), "-r", str(SAMPLE_RATE), "-c", "1", "-e", "u-law", "-b", "8", "-t", "raw",
                    str(raw)], check=True)
    return raw.read_bytes()


def loop_audio(speech: bytes, seconds: float, pause_s: float = 1.0) -> bytes:
    """``speech`` followed by ``pause_s`` of silence, repeated to exactly ``seconds`` (whole frames)."""
    unit = speech + bytes([ULAW_SILENCE]) * int(pause_s * SAMPLE_RATE)
    frames = max(1, round(seconds * SAMPLE_RATE / FRAME_SAMPLES))
    total = frames * FRAME_SAMPLES
    repeats = total // len(unit) + 1
    return (unit * repeats)[:total]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rtp_packets(audio: bytes, *, src_port: int = 6000, dst_port: int = 6002, payload_type: int = 0,
                start_s: float = 1_700_000_000.0) -> list[tuple[float, bytes]]:
    """(time, Ethernet frame) for each 20 ms RTP packet of ``audio``."""
    ssrc = random.getrandbits(32)
    seq0 = random.getrandbits(16)
    ts0 = random.getrandbits(32)
    src_ip = dst_ip = bytes([127, 0, 0, 1])
    out = []
    for i in range(len(audio) // FRAME_SAMPLES):
        payload = audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]
        rtp = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | payload_type, (seq0 + i) & 0xFFFF,
                          (ts0 + i * FRAME_SAMPLES) & 0xFFFFFFFF, ssrc) + payload
        udp_len = 8 + len(rtp)
        ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, i & 0xFFFF, 0x4000, 64, 17, 0, src_ip, dst_ip)
        ip_header = ip_header[:10] + struct.pack("!H", _checksum(ip_header)) + ip_header[12:]
        udp = struct.pack("!HHHH", src_port, dst_port, udp_len, 0) + rtp
        ether = b"\x00" * 12 + b"\x08\x00"
        out.append((start_s + i * FRAME_SAMPLES / SAMPLE_RATE, ether + ip_header + udp))
    return out


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
        for t, frame in packets:
            sec = int(t)
            usec = round((t - sec) * 1_000_000)
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def make_pcap(path: Path, text: str, seconds: float, pause_s: float = 1.0) -> Path:
    """Write ``path``: ``seconds`` of ``text`` (looped) as 20 ms PCMU RTP packets."""
    with tempfile.TemporaryDirectory(prefix="hotline-pcap-") as tmp:
        speech = speech_ulaw(text, Path(tmp))
    write_pcap(path, rtp_packets(loop_audio(speech, seconds, pause_s)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--text", default=CALLER_TEXT)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=1.0, help="silence after each sentence, seconds")
    args = parser.parse_args()
    make_pcap(args.output, args.text, args.seconds, args.pause)
    print(f"{args.output}: {round(args.seconds * 50)} packets of PCMU")


if __name__ == "__main__":
    main()
