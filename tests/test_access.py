"""AccessPolicy: users, user groups (cached), the channel rule, failing closed."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.settings import Settings, load_settings
from bot.slack import access
from bot.slack.access import AccessPolicy, Decision


def settings(**environ: str) -> Settings:
    return load_settings(environ, require_service=False)


class GroupDirectory:
    """A fake ``usergroups.users.list``: members per group, every call counted."""

    def __init__(self, groups: dict[str, list[str]] | None = None) -> None:
        self.groups = groups or {}
        self.calls: list[str] = []
        self.failure: BaseException | None = None

    async def __call__(self, group: str) -> list[str]:
        self.calls.append(group)
        if self.failure is not None:
            raise self.failure
        return list(self.groups.get(group, []))


def slack_error(code: str) -> SlackApiError:
    return SlackApiError(code, {"ok": False, "error": code})  # type: ignore[no-untyped-call]


async def test_listed_user_is_allowed_without_asking_for_groups() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    policy = AccessPolicy(
        settings(SMS_ALLOWED_USERS="U_ALICE", SMS_ALLOWED_USERGROUPS="S_OPS"), groups
    )

    assert await policy.check("U_ALICE", "C_GENERAL") is Decision.ALLOWED
    assert groups.calls == []


async def test_unlisted_user_is_denied() -> None:
    policy = AccessPolicy(settings(SMS_ALLOWED_USERS="U_ALICE"), GroupDirectory())

    decision = await policy.check("U_MALLORY", "C_GENERAL")

    assert decision is Decision.USER_DENIED
    assert not decision.allowed


async def test_group_member_is_allowed_and_the_group_is_cached() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL", "U_DAVE"]})
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS"), groups)

    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.ALLOWED
    assert await policy.check("U_DAVE", "C_GENERAL") is Decision.ALLOWED
    assert await policy.check("U_MALLORY", "C_GENERAL") is Decision.USER_DENIED
    assert groups.calls == ["S_OPS"]


async def test_member_of_any_listed_group_is_allowed() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"], "S_SUPPORT": ["U_DAVE"]})
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS,S_SUPPORT"), groups)

    assert await policy.check("U_DAVE", "C_GENERAL") is Decision.ALLOWED
    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.ALLOWED
    assert sorted(groups.calls) == ["S_OPS", "S_SUPPORT"]


async def test_expired_group_cache_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "GROUP_CACHE_SECONDS", 0.0)
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS"), groups)
    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.ALLOWED

    groups.groups["S_OPS"] = []  # carol left the group

    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.USER_DENIED
    assert groups.calls == ["S_OPS", "S_OPS"]


async def test_channel_rule_holds_even_for_listed_users() -> None:
    policy = AccessPolicy(
        settings(SMS_ALLOWED_USERS="U_ALICE", SMS_ALLOWED_CHANNELS="C_SUPPORT,C_OPS"),
        GroupDirectory(),
    )

    assert await policy.check("U_ALICE", "C_SUPPORT") is Decision.ALLOWED
    assert await policy.check("U_ALICE", "C_GENERAL") is Decision.CHANNEL_DENIED
    assert await policy.check("U_MALLORY", "C_SUPPORT") is Decision.USER_DENIED


async def test_allow_everyone_still_respects_the_channel_rule() -> None:
    policy = AccessPolicy(
        settings(SMS_ALLOW_EVERYONE="true", SMS_ALLOWED_CHANNELS="C_SUPPORT"), GroupDirectory()
    )

    assert await policy.check("U_ANYONE", "C_SUPPORT") is Decision.ALLOWED
    assert await policy.check("U_ANYONE", "C_GENERAL") is Decision.CHANNEL_DENIED


@pytest.mark.parametrize(
    "failure",
    [
        slack_error("missing_scope"),
        slack_error("no_such_subteam"),
        aiohttp.ClientConnectionError("connection reset"),
        TimeoutError(),
    ],
    ids=["missing_scope", "no_such_subteam", "connection", "timeout"],
)
async def test_group_lookup_failure_fails_closed(failure: BaseException) -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    groups.failure = failure
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS"), groups)

    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.USER_DENIED


async def test_failed_lookup_is_not_cached_as_empty() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    groups.failure = slack_error("ratelimited")
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS"), groups)
    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.USER_DENIED

    groups.failure = None

    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.ALLOWED


async def test_admins_are_recognised() -> None:
    policy = AccessPolicy(
        settings(SMS_ALLOWED_USERS="U_ALICE", SMS_ADMINS="U_BOB"), GroupDirectory()
    )

    assert policy.is_admin("U_BOB")
    assert not policy.is_admin("U_ALICE")
