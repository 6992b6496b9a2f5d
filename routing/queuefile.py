"""Reading the queue configuration file (YAML or JSON); the validation itself is ``routing.queues``.

YAML is read with PyYAML's safe loader. The shifts package has its own reader for rota files; the two
bottom packages may not import each other, so each owns a small one.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml

from routing.queues import ConfigError, RoutingConfig, parse_config


def default_config() -> RoutingConfig:
    """The shipped configuration: level-1 general, level-2 network, level-2 applications."""
    text = (resources.files("routing") / "queues.yaml").read_text(encoding="utf-8")
    return parse_config(yaml.safe_load(text))


def read_config(path: Path) -> RoutingConfig:
    """The configuration in ``path``; :class:`ConfigError` naming the file and the fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"Cannot read the queue file {path}: {error.strerror or error}.") from None
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise ConfigError(f"The queue file {path} is not valid YAML or JSON: {error}") from None
    try:
        return parse_config(doc)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
