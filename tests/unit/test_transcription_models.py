"""Model management on tiny fake models: unpacking, the mfcc.conf settings, manifests, idempotence,
checksums, status. The real AAR is installed in tests/integration/test_model_install.py."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from transcription.models import (
    DEFAULT_ARCHIVE,
    MANIFEST,
    ChecksumMismatch,
    InstallProgress,
    MavenUnavailable,
    ModelInstallError,
    install_model,
    model_status,
    set_mfcc_options,
)
from transcription.vosk import parse_conf

MODEL_FILES = {
    "am/final.mdl": b"acoustic model",
    "conf/model.conf": b"--beam=10.0\n",
    "conf/mfcc.conf": b"--sample-frequency=16000\n--dither=1.0\n--use-energy=false\n",
    "graph/HCLr.fst": b"graph",
}


def make_archive(
    path: Path,
    prefix: str = "vosk-model-small-en-us-0.15/",
    files: dict[str, bytes] = MODEL_FILES,
    extra: Iterable[tuple[str, bytes]] = (),
) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("README.md", "not part of the model")
        bundle.writestr("model-en-us/", "")  # an empty decoy folder, as in the AAR
        for name, content in files.items():
            bundle.writestr(prefix + name, content)
        for name, content in extra:
            bundle.writestr(name, content)
    return path


def test_mfcc_options_replace_existing_lines_and_add_missing_ones():
    text = "--sample-frequency=16000\n--dither=1.0\n--use-energy=false"
    assert set_mfcc_options(text) == (
        "--sample-frequency=16000\n--dither=0.0\n--use-energy=false\n--allow-upsample=true\n"
    )
    assert set_mfcc_options("") == "--allow-upsample=true\n--dither=0.0\n"


def test_an_archive_is_unpacked_from_its_model_folder(tmp_path):
    archive = make_archive(tmp_path / "model.zip")
    progress: list[InstallProgress] = []
    target = install_model(tmp_path / "models" / "en", archive, progress.append)
    assert target == (tmp_path / "models" / "en").resolve()
    assert (target / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert not (target / "README.md").exists()
    options = parse_conf((target / "conf" / "mfcc.conf").read_text())
    assert options == {
        "--sample-frequency": "16000",
        "--dither": "0.0",
        "--use-energy": "false",
        "--allow-upsample": "true",
    }
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["name"] == "vosk-model-small-en-us-0.15"
    assert set(manifest["files"]) == set(MODEL_FILES)
    assert [p.stage for p in progress][-1] == "installed"
    unpacked = [p for p in progress if p.stage == "unpack"]
    assert (unpacked[-1].done, unpacked[-1].total, unpacked[-1].unit) == (4, 4, "files")
    assert [p.name for p in target.parent.iterdir()] == ["en"]  # no staging left behind


def test_an_installed_model_is_not_unpacked_again(tmp_path):
    archive = make_archive(tmp_path / "model.zip")
    target = install_model(tmp_path / "en", archive)
    stamp = (target / "am" / "final.mdl").stat().st_mtime_ns
    progress: list[InstallProgress] = []
    install_model(tmp_path / "en", archive, progress.append)
    assert (target / "am" / "final.mdl").stat().st_mtime_ns == stamp
    assert progress[-1].skipped


def test_a_damaged_install_is_repaired(tmp_path):
    archive = make_archive(tmp_path / "model.zip")
    target = install_model(tmp_path / "en", archive)
    (target / "graph" / "HCLr.fst").unlink()
    progress: list[InstallProgress] = []
    install_model(tmp_path / "en", archive, progress.append)
    assert (target / "graph" / "HCLr.fst").read_bytes() == b"graph"
    assert not progress[-1].skipped


def test_a_different_archive_replaces_the_installed_model(tmp_path):
    install_model(tmp_path / "en", make_archive(tmp_path / "a.zip"))
    other = dict(MODEL_FILES, **{"am/final.mdl": b"better model"})
    target = install_model(tmp_path / "en", make_archive(tmp_path / "b.zip", files=other))
    assert (target / "am" / "final.mdl").read_bytes() == b"better model"
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []


def test_a_wrong_checksum_is_rejected_and_nothing_installed(tmp_path):
    archive = make_archive(tmp_path / "model.zip")
    with pytest.raises(ChecksumMismatch, match="not the expected"):
        install_model(tmp_path / "en", archive, sha256="0" * 64)
    assert not (tmp_path / "en").exists()


def test_an_archive_named_like_the_pinned_one_must_match_its_checksum(tmp_path):
    archive = make_archive(tmp_path / DEFAULT_ARCHIVE.filename)
    with pytest.raises(ChecksumMismatch, match=DEFAULT_ARCHIVE.sha256):
        install_model(tmp_path / "en", archive)


def test_an_archive_without_a_model_is_refused(tmp_path):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("hello.txt", "hi")
    with pytest.raises(ModelInstallError, match=r"no am/final\.mdl"):
        install_model(tmp_path / "en", archive)


def test_a_file_that_is_no_zip_is_refused(tmp_path):
    archive = tmp_path / "model.aar"
    archive.write_bytes(b"not a zip")
    with pytest.raises(ModelInstallError, match="not a valid zip"):
        install_model(tmp_path / "en", archive)


def test_paths_escaping_the_model_folder_are_refused(tmp_path):
    archive = make_archive(tmp_path / "evil.zip", prefix="m/", extra=[("m/../../escaped", b"x")])
    with pytest.raises(ModelInstallError, match="unsafe path"):
        install_model(tmp_path / "models" / "en", archive)
    assert not (tmp_path / "escaped").exists()


def test_a_model_directory_is_copied_and_adjusted(tmp_path):
    source = tmp_path / "my-model"
    for name, content in MODEL_FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(content)
    target = install_model(tmp_path / "en", source)
    assert parse_conf((target / "conf" / "mfcc.conf").read_text())["--dither"] == "0.0"
    assert (source / "conf" / "mfcc.conf").read_bytes() == MODEL_FILES["conf/mfcc.conf"]  # source untouched
    progress: list[InstallProgress] = []
    install_model(tmp_path / "en", source, progress.append)
    assert progress[-1].skipped


def test_a_directory_that_is_no_model_is_refused(tmp_path):
    with pytest.raises(ModelInstallError, match="not a Vosk model directory"):
        install_model(tmp_path / "en", tmp_path)


def test_a_missing_source_is_explained(tmp_path):
    with pytest.raises(ModelInstallError, match="No model source"):
        install_model(tmp_path / "en", tmp_path / "nowhere.aar")


def test_without_maven_the_default_model_cannot_be_fetched(tmp_path):
    with pytest.raises(MavenUnavailable, match="not installed"):
        install_model(tmp_path / "en", mvn="no-such-maven-client")


def test_status_of_a_missing_and_an_installed_model(tmp_path):
    assert model_status(tmp_path / "en") == {
        "path": str(tmp_path / "en"),
        "present": False,
        "loaded": False,
        "name": None,
        "source": None,
        "sha256": None,
        "verified": False,
    }
    archive = make_archive(tmp_path / "model.zip")
    target = install_model(tmp_path / "en", archive)
    status = model_status(target)
    assert status["present"] and status["verified"] and not status["loaded"]
    assert status["name"] == "vosk-model-small-en-us-0.15"
    assert status["source"] == str(archive.resolve())
