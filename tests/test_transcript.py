"""The transcript renderer: Slack markup and Block Kit as a person reads them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox import transcript as tx

NAMES = {"U_BOT": "bot", "U_ALICE": "alice", "U_BOB": "bob"}


def section(text: str, kind: str = "mrkdwn", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}, **extra}


def button(label: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": "x"}


@pytest.mark.parametrize(
    ("markup", "shown"),
    [
        ("hi <@U_ALICE>", "hi @alice"),
        ("<@U_NOBODY>", "@U_NOBODY"),
        ("<@U_GONE|gone>", "@gone"),
        ("in <#C_GENERAL|general> and <#C_X>", "in #general and #C_X"),
        ("<!here> <!channel>", "@here @channel"),
        ("<!subteam^S1|@oncall>", "@oncall"),
        ("<https://example.com|the site> <https://example.com>", "the site https://example.com"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("&amp;lt;", "&lt;"),
        ("&lt;@U_ALICE&gt;", "<@U_ALICE>"),
    ],
)
def test_mrkdwn_to_plain(markup: str, shown: str) -> None:
    assert tx.mrkdwn_to_plain(markup, NAMES) == shown


def test_plain_text_objects_are_shown_exactly_as_sent() -> None:
    assert tx.text_object({"type": "plain_text", "text": "a &lt; <@U_ALICE>"}, NAMES) == (
        "a &lt; <@U_ALICE>"
    )
    assert tx.text_object({"type": "mrkdwn", "text": "a &lt; <@U_ALICE>"}, NAMES) == "a < @alice"
    assert tx.text_object(None, NAMES) == ""


def test_section_with_fields_and_button_accessory() -> None:
    block = section(
        "*SMS* to <@U_BOB>",
        fields=[{"type": "mrkdwn", "text": "1 SMS"}, {"type": "plain_text", "text": "#7"}],
        accessory=button("Cancel"),
    )
    assert tx.block_text(block, NAMES) == "*SMS* to @bob\n1 SMS | #7 [Cancel]"


def test_context_header_actions_image_and_unknown_blocks() -> None:
    context = {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "by <@U_ALICE>"},
            {"type": "image", "image_url": "x", "alt_text": "logo"},
            {"type": "plain_text", "text": "now"},
        ],
    }
    select = {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Pick"}}
    actions = {"type": "actions", "elements": [button("Cancel"), button("Retry"), select]}
    assert tx.block_text(context, NAMES) == "by @alice  now"
    header = {"type": "header", "text": {"type": "plain_text", "text": "Hi &amp;"}}
    assert tx.block_text(header, NAMES) == "Hi &amp;"
    assert tx.block_text(actions, NAMES) == "[Cancel] [Retry] [Pick]"
    assert tx.block_text({"type": "image", "alt_text": "chart"}, NAMES) == "[image: chart]"
    assert tx.block_text({"type": "divider"}, NAMES) == ""
    assert tx.block_text({"type": "rich_text", "elements": []}, NAMES) == ""


def test_blocks_win_over_text_unless_they_show_nothing() -> None:
    with_blocks = tx.Post("U_BOT", "fallback", [section("shown"), {"type": "divider"}])
    only_rich = tx.Post("U_BOT", "fallback &amp; more", [{"type": "rich_text", "elements": []}])
    assert tx.post_text(with_blocks, NAMES) == "shown"
    assert tx.post_text(only_rich, NAMES) == "fallback & more"


def test_multiline_text_is_aligned_and_edited_marked_at_the_end() -> None:
    lines = tx.post_lines("  ", tx.Post("U_BOT", "one\ntwo\n\nthree", edited=True), NAMES)
    assert lines == ["  bot: one", "       two", "", "       three  (edited)"]


def test_conversation_titles() -> None:
    assert tx.conversation_title("C_GENERAL", NAMES) == "#C_GENERAL"
    assert tx.conversation_title("D_U_ALICE", NAMES) == "DM with alice"
    assert tx.conversation_title("D_U_ZED", NAMES) == "DM with U_ZED"
    assert tx.conversation_title("D123", NAMES) == "DM D123"


def test_modal_line_lists_input_labels() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Send an SMS"},
        "blocks": [
            {"type": "input", "label": {"type": "plain_text", "text": "To"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "hint"}},
            {"type": "input", "label": {"type": "plain_text", "text": "Message"}},
        ],
    }
    assert tx.modal_line(tx.Modal("U_ALICE", view), NAMES) == (
        '[modal opened for alice: "Send an SMS" — fields: To, Message]'
    )
    assert tx.modal_line(tx.Modal(None, {"title": view["title"]}, updated=True), NAMES) == (
        '[modal updated: "Send an SMS"]'
    )


def test_render_groups_by_conversation_with_threads_private_and_modals() -> None:
    entries: list[tx.Entry] = [
        tx.Thread(
            "C_GENERAL",
            tx.Post("U_BOT", "📤 SMS from <@U_ALICE>", edited=True),
            [tx.Post("U_BOT", "✅ accepted by sipgate")],
        ),
        tx.Private("C_GENERAL", "U_ALICE", tx.Post("U_BOT", "only you")),
        tx.Thread("D_U_ALICE", tx.Post("U_BOT", "later")),
        tx.Modal("U_ALICE", {"title": {"type": "plain_text", "text": "Send an SMS"}}),
        tx.Private(None, None, tx.Post("U_BOT", "somewhere")),
        tx.Thread("C_GENERAL", tx.Post("", tx.DELETED_TEXT), [tx.Post("U_BOT", "orphan")]),
    ]
    assert tx.render(entries, NAMES) == (
        "#C_GENERAL\n"
        "  bot: 📤 SMS from @alice  (edited)\n"
        "    └ bot: ✅ accepted by sipgate\n"
        "  (only visible to you, alice) bot: only you\n"
        "DM with alice\n"
        "  bot: later\n"
        '[modal opened for alice: "Send an SMS"]\n'
        "(only visible to you) bot: somewhere\n"
        "#C_GENERAL\n"
        "  (this message was deleted)\n"
        "    └ bot: orphan\n"
    )


def test_render_of_nothing_is_empty() -> None:
    assert tx.render([], NAMES) == ""


def test_settle_responses_replace_and_delete_per_url() -> None:
    posts: list[tuple[int, str, dict[str, Any]]] = [
        (0, "a", {"text": "a1"}),
        (1, "b", {"text": "b1"}),
        (2, "a", {"text": "a2", "replace_original": True}),
        (3, "b", {"delete_original": True}),
        (4, "b", {"text": "b2", "replace_original": True}),  # nothing left to replace
        (5, "a", {"text": "a3"}),
    ]
    assert tx.settle_responses(posts) == {
        0: ({"text": "a2", "replace_original": True}, True),
        4: ({"text": "b2", "replace_original": True}, False),
        5: ({"text": "a3"}, False),
    }
