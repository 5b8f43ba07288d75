"""AccessPolicy: users, user groups (cached), the channel rule, failing closed."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import AccessPolicy, AccessRules, Decision, access
from bot.settings import load_settings
from bot.slack.web import SlackWeb
from tests.fakes.slack import ScriptedSlack
from tests.helpers import free_port


def settings(**environ: str) -> AccessRules:
    return load_settings(environ, require_service=False).access_rules


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


async def test_group_lookup_failure_fails_closed() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    groups.failure = LookupError("missing_scope")
    policy = AccessPolicy(settings(SMS_ALLOWED_USERGROUPS="S_OPS"), groups)

    assert await policy.check("U_CAROL", "C_GENERAL") is Decision.USER_DENIED


async def test_failed_lookup_is_not_cached_as_empty() -> None:
    groups = GroupDirectory({"S_OPS": ["U_CAROL"]})
    groups.failure = LookupError("ratelimited")
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


# --- the Slack side of group lookups ------------------------------------------------------------


@pytest.mark.parametrize("error", ["missing_scope", "ratelimited"])
async def test_a_failed_usergroups_call_is_a_lookup_error(error: str) -> None:
    async with (
        ScriptedSlack(usergroups={"S_OPS": ["U_CAROL"]}) as slack,
        aiohttp.ClientSession() as http,
    ):
        web = SlackWeb(AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=http))
        assert await web.group_members("S_OPS") == ["U_CAROL"]
        slack.fail("usergroups.users.list", error)

        with pytest.raises(LookupError, match=error):
            await web.group_members("S_OPS")
        with pytest.raises(LookupError, match="no_such_subteam"):
            await web.group_members("S_UNKNOWN")


async def test_an_unreachable_slack_is_a_lookup_error() -> None:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{free_port()}/api/"
        web = SlackWeb(AsyncWebClient(token="xoxb-test", base_url=url, session=http))

        with pytest.raises(LookupError, match="ClientConnectorError"):
            await web.group_members("S_OPS")
