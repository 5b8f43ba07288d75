"""Slack markup turned back into plain text: a message made readable for "Send as SMS", the
colleagues it mentions, and the compose form's To field with colleagues in it."""

from __future__ import annotations

import pytest

from bot.core import NumberProblem, parse_number
from bot.slack.markup import mentioned_users, readable_text, typed_text
from bot.slack.to_field import read_to

NAMES = {"U0ANNA": "Anna Schmidt", "U0BEN": "ben"}


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("Hi <@U0ANNA>, call <@U0BEN>", "Hi @Anna Schmidt, call @ben"),
        ("ask <@U0CARL|carl>", "ask @carl"),  # no name known: the mention's own label
        ("ask <@U0DORA>", "ask @U0DORA"),  # nothing better than the id
        ("plan: <https://x.test/p|the plan>", "plan: the plan (https://x.test/p)"),
        ("see <https://x.test/p>", "see https://x.test/p"),
        ("see <http://x.test|x.test>", "see x.test"),  # Slack's own link of a typed address
        ("mail <mailto:a@b.test|a@b.test>", "mail a@b.test"),
        ("in <#C0SUP|support> or <#C0GEN>", "in #support or #C0GEN"),
        ("<!here> <!channel> <!subteam^S0ON|@oncall>", "@here @channel @oncall"),
        ("Tom &amp; Jerry &lt;3 &gt;_&lt;", "Tom & Jerry <3 >_<"),
        ("typed &amp;lt; stays", "typed &lt; stays"),
        ("<https://x.test/?a=1&amp;b=2|A &amp; B>", "A & B (https://x.test/?a=1&b=2)"),
        ("call <tel:+4915112345678|+49 151 12345678>", "call +49 151 12345678"),
        ("no markup at all", "no markup at all"),
    ],
)
def test_a_message_is_made_readable(text: str, readable: str) -> None:
    assert readable_text(text, NAMES) == readable


def test_typed_text_keeps_labels_only() -> None:
    assert typed_text("see <https://x.test/p|the plan> &amp; <@U0ANNA|anna>") == (
        "see the plan & @anna"
    )


def test_the_mentioned_users_once_each_in_order() -> None:
    text = "<@U0BEN> <#C1|x> <@U0ANNA|anna> <@U0BEN> <!here>"
    assert mentioned_users(text) == ["U0BEN", "U0ANNA"]


# --- the To field --------------------------------------------------------------------------------


def test_a_known_colleague_in_to_is_their_number_and_keeps_their_name() -> None:
    people = {"@anna": "+4915112345678", "@ben": None}

    to = read_to("@anna, 0170 1234567; @ben\n0170 12", "DE", people)

    assert [n.e164 for n in to.numbers] == ["+4915112345678", "+491701234567"]
    assert to.labels == {"+4915112345678": "@anna"}
    assert to.no_number == ("@ben",)
    assert [(e.typed, e.problem) for e in to.unreadable] == [("0170 12", NumberProblem.INVALID)]
    assert to.typed_others == ("0170 12", "@ben")


def test_an_unknown_name_in_to_is_no_number() -> None:
    to = read_to("@carl", "DE", {})

    assert to.numbers == ()
    assert [e.problem for e in to.unreadable] == [NumberProblem.NOT_A_NUMBER]


def test_a_colleague_whose_number_was_also_typed_is_texted_once() -> None:
    to = read_to("@anna, +49 151 12345678", "DE", {"@anna": "+4915112345678"})

    assert to.numbers == (parse_number("+4915112345678", "DE"),)
    assert to.labels == {"+4915112345678": "@anna"}
