"""HTTP digest (RFC 2617, as SIP uses it) for the raw SIP peer: answer a 401/407 challenge."""

from __future__ import annotations

import hashlib
import re
import uuid


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _params(challenge: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge)}


def authorization(challenge_header: str, *, method: str, uri: str, user: str, password: str,
                  header: str = "Authorization") -> str:
    """The ``Authorization`` (or ``Proxy-Authorization``) header line answering ``challenge_header`` (the value
    of a WWW-Authenticate or Proxy-Authenticate header)."""
    p = _params(challenge_header)
    realm, nonce = p["realm"], p["nonce"]
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', "algorithm=MD5"]
    if "auth" in p.get("qop", "").split(","):
        cnonce, nc = uuid.uuid4().hex[:16], "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in p:
        fields.append(f'opaque="{p["opaque"]}"')
    return f"{header}: Digest " + ", ".join(fields)
