import json
from tests.conftest import MakeBot
from bot.sandbox.harness import Fakes

async def test_explore(make_bot: MakeBot, fakes: Fakes) -> None:
    bot = await make_bot()
    resp = await bot.command("+49 151 12345678 Your technician arrives at 3pm")
    print(resp.status, repr(resp.body))
    posts = await fakes.sipgate.wait_for_posts(1)
    print(posts[0].json)
    await fakes.slack.wait_for("chat.update", 1)
    for m in fakes.slack.messages("C_GENERAL"):
        print(m)
    print(fakes.slack.transcript())
    for c in fakes.slack.calls: print(c.method, c.args)
