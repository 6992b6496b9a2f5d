"""Reading rota files: YAML (``.yaml``/``.yml``) or JSON, the one module that imports PyYAML.

YAML 1.1 reads ``12:00`` as the number 720 (base 60), ``0101`` as an octal number and bare dates as
``datetime`` objects; in a rota those are times of day, extensions and wall-clock times. The loader here
resolves only plain decimal integers, booleans, null and floats, so everything else stays a string and
the domain parses it with its own, clearer errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from shifts.rota import RotaError


class _RotaLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's sexagesimal, octal and timestamp implicit types."""


_RotaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RotaLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*))$"),
                                  list("-+0123456789"))


def read_rota_file(path: Path) -> Any:
    """The document in ``path``, parsed but not yet validated; :class:`RotaError` if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RotaError(f"Cannot read the rota file {path}: {error.strerror or error}.") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_RotaLoader)  # a SafeLoader subclass: safe
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise RotaError(f"The rota file {path} is not valid {kind}: {error}") from None
