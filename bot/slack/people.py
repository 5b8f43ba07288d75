"""Colleagues as recipients and as names: their numbers and names from their Slack profiles.

A colleague named in ``/sms @anna …`` is texted at the phone number of their Slack profile
(``users.profile.get``), read in ``SMS_DEFAULT_REGION``; a profile without a valid number
gives none, and the handlers open the form instead of guessing. Profiles are looked up
together, and cached by ``SlackWeb``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.core import NumberError, PhoneNumber, parse_number
from bot.slack.parse import Mention
from bot.slack.web import Profile, SlackWeb


@dataclass(frozen=True)
class Colleague:
    """A mentioned colleague: ``label`` (``@anna``) and the number to text, if any."""

    label: str
    number: PhoneNumber | None


async def look_up(web: SlackWeb, mentions: Sequence[Mention], region: str) -> dict[str, Colleague]:
    """Each mentioned colleague by user id, with their profile's number (None if not valid)."""
    profiles = await asyncio.gather(*(web.profile(m.user_id) for m in mentions))
    return {
        mention.user_id: Colleague(mention.label, profile_number(profile, region))
        for mention, profile in zip(mentions, profiles, strict=True)
    }


def profile_number(profile: Profile | None, region: str) -> PhoneNumber | None:
    """The number in a profile, read in ``region``; None when there is no valid one."""
    if profile is None or not profile.phone:
        return None
    try:
        return parse_number(profile.phone, region)
    except NumberError:
        return None


def known_people(colleagues: Iterable[Colleague]) -> dict[str, str | None]:
    """What the form carries: ``@anna`` → E.164, or None when the profile has no number."""
    return {c.label: c.number.e164 if c.number else None for c in colleagues}


async def display_names(web: SlackWeb, user_ids: Sequence[str]) -> Mapping[str, str]:
    """User id → the name Slack shows for them (display name, else real name)."""
    profiles = await asyncio.gather(*(web.profile(user_id) for user_id in user_ids))
    return {
        user_id: profile.name
        for user_id, profile in zip(user_ids, profiles, strict=True)
        if profile is not None and profile.name
    }
