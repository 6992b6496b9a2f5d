"""The pure rules of SIP credentials: the HA1 digests Kamailio compares, generated and chosen SIP passwords,
the identities a phone and a worker may have, and the sentence for SIP passwords of an old realm."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from accounts.model import (
    MIN_SIP_PASSWORD,
    SIP_PASSWORD_ALPHABET,
    AccountError,
    SipDigest,
    SipPassword,
    check_realm,
    check_sip_identity,
    check_sip_password,
    check_worker_name,
    is_worker_name,
    new_sip_password,
    sip_ha1,
    sip_ha1b,
    stale_realm_notice,
    worker_name,
)

# Computed outside Python: `printf 'user:realm:password' | md5sum` (the first is RFC 2617's own example).
KNOWN = [
    ("Mufasa", "testrealm@host.com", "Circle Of Life",
     "939e7578ed9e3c518a452acee763bce9", "a8515a070d59f4360775b24b870b3e49"),
    ("1001", "sip.example.org", "correct-horse-42",
     "418d0a7b6623ea8fae3b2a831c6663dc", "a037752da9e02244071e11fa0e2db446"),
]


@pytest.mark.parametrize(("username", "realm", "password", "ha1", "ha1b"), KNOWN)
def test_ha1_and_ha1b_are_the_md5_digests_kamailio_expects(username: str, realm: str, password: str, ha1: str,
                                                           ha1b: str) -> None:
    assert sip_ha1(username, realm, password) == ha1
    assert sip_ha1b(username, realm, password) == ha1b
    assert SipDigest.of(username, realm, password) == SipDigest(username, realm, ha1, ha1b)


def test_the_digest_depends_on_the_realm() -> None:
    assert sip_ha1("1001", "a.example", "correct-horse-42") != sip_ha1("1001", "b.example", "correct-horse-42")


def test_generated_passwords_are_long_random_and_typeable() -> None:
    passwords = [new_sip_password() for _ in range(500)]
    assert len(set(passwords)) == 500
    assert all(len(p) >= 16 for p in passwords)
    used = set("".join(passwords))
    assert used <= set(SIP_PASSWORD_ALPHABET)
    assert not used & set("0O1lI"), "no look-alikes: a desk phone's password is typed by hand"
    assert len(used) == len(SIP_PASSWORD_ALPHABET), "500 passwords of 20 symbols use every symbol"
    assert set(SIP_PASSWORD_ALPHABET) <= set(string.ascii_letters + string.digits)
    assert all(check_sip_password(p) == p for p in passwords)


@pytest.mark.parametrize(("password", "says"), [
    ("x" * (MIN_SIP_PASSWORD - 1), "12 to 128 characters"),
    ("x" * 129, "12 to 128 characters"),
    ("tab\there-is-long", "control"),
    ("newline-at-end\n", "control"),
    ("delete\x7f-is-control", "control"),
    ("zero\u200bwidth-space", "invisible"),
    ("pässwörd-with-umlauts", "printable ASCII"),
])
def test_a_chosen_password_is_refused_with_a_sentence(password: str, says: str) -> None:
    with pytest.raises(AccountError, match=says):
        check_sip_password(password)


@pytest.mark.parametrize("password", ["x" * MIN_SIP_PASSWORD, "correct horse battery", "!#$%&'()*+,-./:;<=>?@[]^_~"])
def test_a_sane_chosen_password_passes(password: str) -> None:
    assert check_sip_password(password) == password


def test_only_a_user_with_an_extension_that_is_no_worker_has_a_sip_identity() -> None:
    assert check_sip_identity("al", "1001") == "1001"
    with pytest.raises(AccountError, match="no extension"):
        check_sip_identity("sue", None)
    with pytest.raises(AccountError, match="hotline worker"):
        check_sip_identity("mallory", "hotline-1")


def test_worker_names() -> None:
    assert [worker_name(n) for n in (1, 2, 16)] == ["hotline-1", "hotline-2", "hotline-16"]
    assert all(is_worker_name(worker_name(n)) for n in range(1, 100))
    for name in ("hotline-0", "hotline-01", "hotline-", "1001", "hotline-1x", "Hotline-1"):
        with pytest.raises(AccountError, match="hotline-N"):
            check_worker_name(name)


@pytest.mark.parametrize("realm", ["", "has space", 'quo"te', "x" * 256, "tab\t"])
def test_a_bad_realm_is_refused(realm: str) -> None:
    with pytest.raises(AccountError, match="realm"):
        check_realm(realm)


def test_sip_passwords_of_an_old_realm_get_a_sentence_for_the_operator() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    assert stale_realm_notice([], "new.example") is None
    notice = stale_realm_notice([SipPassword(1, "1001", "old.example", at), SipPassword(2, "1002", "old.example", at)],
                                "new.example")
    assert notice is not None
    assert "2 SIP passwords" in notice and "'old.example'" in notice and "'new.example'" in notice
    assert "1001, 1002" in notice and "hotline users sip-password" in notice
