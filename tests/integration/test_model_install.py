"""Installing the real model: the published AAR (``com.alphacephei:vosk-model-en:0.3.45``) from a local
copy, and by Maven coordinates when the local Maven repository already holds it (no network in tests).

The AAR is looked for in ``HOTLINE_TEST_MODEL_AAR``, /tmp/model and the local Maven repository; the
tests skip with that reason when none is there.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from transcription.models import (
    DEFAULT_ARCHIVE,
    ChecksumMismatch,
    InstallProgress,
    install_model,
    model_status,
    read_manifest,
    sha256_file,
)
from transcription.vosk import LegTranscriber, SpeechModel, parse_conf

pytestmark = pytest.mark.integration

M2_AAR = (
    Path.home() / ".m2" / "repository" / "com" / "alphacephei" / "vosk-model-en" / "0.3.45" / DEFAULT_ARCHIVE.filename
)


def find_aar() -> Path | None:
    candidates: list[str | Path] = [
        os.environ.get("HOTLINE_TEST_MODEL_AAR", ""),
        f"/tmp/model/{DEFAULT_ARCHIVE.filename}",
        M2_AAR,
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def aar() -> Path:
    path = find_aar()
    if path is None:
        pytest.skip(f"No local copy of {DEFAULT_ARCHIVE.filename} (set HOTLINE_TEST_MODEL_AAR).")
    return path


@pytest.fixture(scope="module")
def installed(aar, tmp_path_factory) -> tuple[Path, list[InstallProgress]]:
    progress: list[InstallProgress] = []
    target = install_model(tmp_path_factory.mktemp("models") / "en", aar, progress.append)
    return target, progress


def test_the_aar_is_verified_and_unpacked(installed, aar):
    target, progress = installed
    assert sha256_file(aar) == DEFAULT_ARCHIVE.sha256 and aar.stat().st_size == DEFAULT_ARCHIVE.size
    verified = [p for p in progress if p.stage == "verify"]
    assert verified[-1].done == verified[-1].total == DEFAULT_ARCHIVE.size
    for name in ("am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie", "conf/model.conf"):
        assert (target / name).is_file(), name
    assert (read_manifest(target) or {})["sha256"] == DEFAULT_ARCHIVE.sha256
    assert model_status(target) | {"loaded": None} == {
        "path": str(target),
        "present": True,
        "loaded": None,
        "name": "model-en-us",
        "source": str(aar.resolve()),
        "sha256": DEFAULT_ARCHIVE.sha256,
        "verified": True,
    }


def test_dither_is_off_and_8khz_audio_accepted(installed):
    target, _ = installed
    text = (target / "conf" / "mfcc.conf").read_text()
    options = parse_conf(text)
    assert options["--dither"] == "0.0" and options["--allow-upsample"] == "true"
    assert options["--sample-frequency"] == "16000"  # the published settings are kept
    assert text.count("--dither") == 1


def test_the_installed_model_transcribes(installed):
    target, _ = installed
    model = SpeechModel.load(target)
    assert model_status(target)["loaded"]
    leg = LegTranscriber(model, "call-1", "caller")
    leg.feed(bytes(16000))
    assert leg.close(timeout=30) == []


def test_installing_again_fetches_and_unpacks_nothing(installed, aar):
    target, _ = installed
    stamp = (target / "am" / "final.mdl").stat().st_mtime_ns
    progress: list[InstallProgress] = []
    started = time.monotonic()
    install_model(target, aar, progress.append)
    assert progress[-1].skipped and (target / "am" / "final.mdl").stat().st_mtime_ns == stamp
    # The default source (Maven) is not even asked when the pinned model is installed:
    progress.clear()
    install_model(target, progress=progress.append, mvn="no-such-maven-client")
    assert [(p.stage, p.skipped) for p in progress] == [("installed", True)]
    assert time.monotonic() - started < 5


def test_a_wrong_checksum_is_rejected(aar, tmp_path):
    with pytest.raises(ChecksumMismatch, match=DEFAULT_ARCHIVE.sha256[:16]) as mismatch:
        install_model(tmp_path / "en", aar, sha256="0" * 64)
    assert DEFAULT_ARCHIVE.sha256 in str(mismatch.value)  # the actual checksum, for the log
    damaged = tmp_path / DEFAULT_ARCHIVE.filename
    with aar.open("rb") as src, damaged.open("wb") as dst:
        dst.write(src.read(DEFAULT_ARCHIVE.size - 1000))
    with pytest.raises(ChecksumMismatch, match="not the published model"):
        install_model(tmp_path / "en", damaged)
    assert not (tmp_path / "en").exists()


@pytest.mark.skipif(shutil.which("mvn") is None, reason="Maven (mvn) is not installed.")
@pytest.mark.skipif(not M2_AAR.is_file(), reason="The AAR is not in the local Maven repository (no network in tests).")
def test_the_default_model_is_fetched_with_maven(tmp_path):
    progress: list[InstallProgress] = []
    target = install_model(tmp_path / "en", None, progress.append)
    assert [p.stage for p in progress][:2] == ["fetch", "fetch"]
    assert (read_manifest(target) or {})["source"] == "maven:com.alphacephei:vosk-model-en:0.3.45:aar"
    assert model_status(target)["verified"]
