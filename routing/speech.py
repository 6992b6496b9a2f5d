"""What the hotline says to callers, as named prompts: the texts to record (with espeak-ng, in
``telephony.prompts``) and which prompts make up an announcement. Pure."""

from __future__ import annotations

import math

from routing.queues import RoutingConfig

MAX_POSITION = 20
MAX_WAIT_MINUTES = 15


def menu_text(config: RoutingConfig) -> str:
    menu = config.menu
    if menu.prompt:
        return menu.prompt
    parts = [f"For {opt.category or opt.queue}, press {_key(key)}." for key, opt in sorted(menu.options.items())]
    return "Welcome to the help desk. " + " ".join(parts) + " Or stay on the line to speak to the next person."


def _key(key: str) -> str:
    return {"*": "star", "#": "hash"}.get(key, key)


def prompt_texts(config: RoutingConfig) -> dict[str, str]:
    texts = {
        "menu": menu_text(config),
        "menu_again": "Sorry, I did not get that.",
        "position_many": f"There are more than {MAX_POSITION} callers ahead of you.",
        "wait_short": "You should be connected within a minute.",
        "wait_long": "Your estimated wait is more than a quarter of an hour.",
        "callback_offer": f"To be called back without losing your place in the queue, press "
                          f"{_key(config.menu.callback_key)}.",
        "callback_confirmed": "Thank you. We will call you back when it is your turn. Goodbye.",
        "callback_agent": "Calling the customer back now.",
        "no_agent": "Sorry, nobody can take your call now. Please call again later. Goodbye.",
    }
    for n in range(1, MAX_POSITION + 1):
        texts[f"position_{n}"] = f"You are number {n} in the queue."
    for m in range(1, MAX_WAIT_MINUTES + 1):
        texts[f"wait_{m}"] = f"Your estimated wait is about {m} minute{'s' if m > 1 else ''}."
    return texts


def announcement(position: int, estimated_wait: float) -> list[str]:
    """The prompts that tell a caller their place and estimated wait."""
    place = f"position_{position}" if position <= MAX_POSITION else "position_many"
    minutes = math.ceil(estimated_wait / 60)
    if estimated_wait < 60:
        wait = "wait_short"
    elif minutes <= MAX_WAIT_MINUTES:
        wait = f"wait_{minutes}"
    else:
        wait = "wait_long"
    return [place, wait]
