"""``hotline users sip-password`` and ``hotline users list`` as an operator runs them: ``python -m hotline.cli``
in a process of its own, on a real SQLite file, with the realm from HOTLINE_SIP_DOMAIN."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline.db import make_engine

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REALM = "sip.example.org"


def hotline(data: Path, *args: str, stdin: str = "", realm: str = REALM) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data), "HOTLINE_DATABASE_URL": "", "HOTLINE_SIP_DOMAIN": realm,
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hotline.cli", "users", *args], env=env, cwd=data, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def view(data: Path) -> list[tuple[str, str, str, str]]:
    engine = make_engine(f"sqlite:///{data / 'hotline.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT username, domain, ha1, ha1b FROM sip_subscribers")).tuples())
    finally:
        engine.dispose()


def digests(password: str, realm: str = REALM) -> tuple[str, str, str, str]:
    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    return ("1001", realm, md5(f"1001:{realm}:{password}"), md5(f"1001@{realm}:{realm}:{password}"))


def test_sip_password_generated_given_refused_listed_and_removed(tmp_path: Path) -> None:
    made = hotline(tmp_path, "create", "al", "--role", "agent", "--extension", "1001", "--password-stdin",
                   stdin="a long password\n")
    assert made.returncode == 0, made.stderr
    assert "no SIP password" in hotline(tmp_path, "list").stdout

    generated = hotline(tmp_path, "sip-password", "al")
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip()
    assert generated.stdout == password + "\n", "the password alone on standard output"
    assert len(password) >= 16 and "1001" in generated.stderr and REALM in generated.stderr
    assert view(tmp_path) == [digests(password)]
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("hotline.db*"))  # the file, its WAL, its index
    assert password.encode() not in stored and digests(password)[2].encode() in stored
    listed = hotline(tmp_path, "list")
    assert "\tSIP password set " in listed.stdout and password not in listed.stdout

    given = hotline(tmp_path, "sip-password", "al", "--password-stdin", stdin="al's desk phone 42\n")
    assert given.returncode == 0 and "al's desk phone" not in given.stdout + given.stderr
    assert view(tmp_path) == [digests("al's desk phone 42")]

    for refused, says in [("short\n", "12 to 128 characters"), ("a long password\n", "console password")]:
        done = hotline(tmp_path, "sip-password", "al", "--password-stdin", stdin=refused)
        assert (done.returncode, done.stdout) == (1, "") and says in done.stderr
    assert view(tmp_path) == [digests("al's desk phone 42")], "a refusal changes nothing"
    nobody = hotline(tmp_path, "sip-password", "nobody")
    assert nobody.returncode == 1 and "There is no user 'nobody'" in nobody.stderr

    moved = hotline(tmp_path, "list", realm="new.example.org")  # the operator changed HOTLINE_SIP_DOMAIN
    assert "old realm 'sip.example.org'" in moved.stdout and "cannot authenticate" in moved.stderr

    removed = hotline(tmp_path, "sip-password", "al", "--remove")
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert view(tmp_path) == []
    assert "had no SIP password" in hotline(tmp_path, "sip-password", "al", "--remove").stdout
