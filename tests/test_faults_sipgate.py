"""sipgate failing in every ordinary way, through the whole bot: quick send and scheduled firing.

For each fault: the requester is told, the send ends in a defined state, and at most one SMS
per recipient reaches the fake sipgate (never an automatic retry once a request may have left).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.core import State
from bot.logs import OneLineFormatter, RequestContext
from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.sipgate import DROP, HANG, Scripted
from tests.fakes import ScriptedFakes
from tests.helpers import (
    NUMBER,
    MakeBot,
    fire_due,
    free_port,
    only_send,
    schedule,
    wait_thread,
)

JSON = {"Content-Type": "application/json"}

# (id, scripted answer, expected state, error kind, words the requester reads)
FAULTS = [
    ("hang", HANG, State.UNKNOWN, "no_answer", "may or may not have gone out"),
    ("drop", DROP, State.UNKNOWN, "no_answer", "not retried to avoid a double send"),
    ("500", Scripted(status=500), State.UNKNOWN, "server", "internal error"),
    ("502", Scripted(status=502, body=b"<html>Bad Gateway</html>"), State.UNKNOWN, "server",
     "may not have gone out"),
    ("503", Scripted(status=503), State.UNKNOWN, "server", "may not have gone out"),
    ("429", Scripted(status=429), State.FAILED, "rate_limited",
     "rate-limiting; try again in a minute"),
    # The ledger keeps the kind, not the header: the reply is the one for any 429.
    ("429-retry-after", Scripted(status=429, headers={"Retry-After": "30"}), State.FAILED,
     "rate_limited", "rate-limiting; try again in a minute"),
    ("429-bad-retry-after", Scripted(status=429, headers={"Retry-After": "soon"}), State.FAILED,
     "rate_limited", "rate-limiting"),
    ("slow-under-timeout", Scripted(status=204, delay=0.3), State.ACCEPTED, None,
     "accepted by sipgate"),
    ("200-not-json", Scripted(status=200, body=b"<<not json>>"), State.ACCEPTED, None,
     "accepted by sipgate"),
    ("200-broken-json", Scripted(status=200, body=b'{"broken', headers=JSON), State.ACCEPTED,
     None, "accepted by sipgate"),
    ("202-empty", Scripted(status=202), State.ACCEPTED, None, "accepted by sipgate"),
    ("400-not-json", Scripted(status=400, body=b"\x00\xff garbage"), State.FAILED, "invalid",
     "rejected the SMS as invalid"),
    ("500-broken-json", Scripted(status=500, body=b'{"error":', headers=JSON), State.UNKNOWN,
     "server", "internal error"),
]  # fmt: skip
FAULT_IDS = [fault[0] for fault in FAULTS]
QUICK_ONLY_NEW = {"502", "429-retry-after", "429-bad-retry-after", "slow-under-timeout",
                  "200-not-json", "200-broken-json", "202-empty", "400-not-json",
                  "500-broken-json"}  # fmt: skip


def count_attempts(bot: Sandbox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every HTTP round trip the bot's sipgate client tries (connected or not)."""
    client = bot.bot.sipgate
    client.retry_delay = 0
    original = client._exchange  # the transport: count every attempt
    attempts: list[str] = []

    async def counted(request):  # type: ignore[no-untyped-def]
        attempts.append(request.path)
        return await original(request)

    monkeypatch.setattr(client, "_exchange", counted)
    return attempts


def assert_sms_count(fakes: ScriptedFakes, state: State) -> None:
    """At most one SMS per recipient arrived; it counts as sent only when accepted."""
    assert len(fakes.sipgate.sms_posts) == 1, "a send was retried or never made"
    assert len(fakes.sipgate.sms) == (1 if state is State.ACCEPTED else 0)


@pytest.mark.parametrize(
    ("scripted", "state", "kind", "words"),
    [fault[1:] for fault in FAULTS if fault[0] in QUICK_ONLY_NEW],
    ids=[fault[0] for fault in FAULTS if fault[0] in QUICK_ONLY_NEW],
)
async def test_quick_send_fault(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    scripted: Scripted,
    state: State,
    kind: str | None,
    words: str,
) -> None:
    bot = await make_bot()
    fakes.sipgate.script_send(scripted)

    response = await bot.command(f"{NUMBER} hi")

    assert response.status == 200
    await fakes.slack.wait_for("chat.update", 1)
    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert words in reply.text
    send = await only_send(bot)
    assert (send.state, send.error_kind) == (state, kind)
    assert_sms_count(fakes, state)
    assert fakes.sipgate.unused_script == ()


@pytest.mark.parametrize(("scripted", "state", "kind", "words"), [f[1:] for f in FAULTS],
                         ids=FAULT_IDS)  # fmt: skip
async def test_scheduled_firing_fault(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    clock: ManualClock,
    scripted: Scripted,
    state: State,
    kind: str | None,
    words: str,
) -> None:
    bot = await make_bot(run_scheduler=False, SIPGATE_TIMEOUT="0.5")
    await schedule(bot, clock)
    fakes.sipgate.script_send(scripted)

    await fire_due(bot, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[0].text.startswith("🕒")
    assert words in replies[1].text
    send = await only_send(bot)
    assert (send.state, send.error_kind) == (state, kind)
    assert_sms_count(fakes, state)
    if state is State.UNKNOWN:
        assert "check with the recipient before sending again" in replies[1].text


async def test_quick_send_to_an_unreachable_sipgate_fails_after_one_retry(
    make_bot: MakeBot, fakes: ScriptedFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await make_bot(SIPGATE_API_URL=f"http://127.0.0.1:{free_port()}/v2", SIPGATE_SMS_ID="s0")
    attempts = count_attempts(bot, monkeypatch)

    await bot.command(f"{NUMBER} hi")

    await fakes.slack.wait_for("chat.update", 1)
    parent, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert "❌ failed" in parent.text
    assert "could not reach sipgate; nothing was sent" in reply.text
    send = await only_send(bot)
    assert (send.state, send.error_kind) == (State.FAILED, "unreachable")
    assert attempts == ["/sessions/sms", "/sessions/sms"]  # refused: repeated once, no more
    assert fakes.sipgate.sms_posts == []


async def test_scheduled_send_firing_while_sipgate_is_unreachable_fails(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await make_bot(run_scheduler=False)
    await schedule(before, clock)
    await before.close()
    after = await make_bot(  # restarted while sipgate is down
        run_scheduler=False,
        SIPGATE_API_URL=f"http://127.0.0.1:{free_port()}/v2",
        SIPGATE_SMS_ID="s0",
    )
    attempts = count_attempts(after, monkeypatch)

    await fire_due(after, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert "could not reach sipgate; nothing was sent" in replies[1].text
    send = await only_send(after)
    assert (send.state, send.error_kind) == (State.FAILED, "unreachable")
    assert attempts == ["/sessions/sms", "/sessions/sms"]
    assert fakes.sipgate.sms_posts == []


@pytest.fixture
def bot_log() -> Iterator[io.StringIO]:
    """The bot's log lines as ``python -m bot`` writes them (formatter and context filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = logging.getLogger("bot").level
    logging.getLogger("bot").setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logging.getLogger("bot").setLevel(previous)


async def test_sipgate_log_lines_name_the_request(
    make_bot: MakeBot, fakes: ScriptedFakes, bot_log: io.StringIO
) -> None:
    bot = await make_bot()
    fakes.sipgate.script_send(Scripted(status=402))

    await bot.command(f"{NUMBER} Geheimtext")

    await fakes.slack.wait_for("chat.update", 1)
    send = await only_send(bot)
    lines = bot_log.getvalue().splitlines()
    (answered,) = [line for line in lines if "sipgate answered 402" in line]
    assert f"request_id={send.request_id}" in answered
    (failed,) = [line for line in lines if "sms failed" in line]
    assert f"request_id={send.request_id}" in failed
    assert "interaction=command:" in failed
    assert "Geheimtext" not in bot_log.getvalue()
    assert "15112345678" not in bot_log.getvalue()
