"""Render a Slack conversation as plain text, the way a person would read it.

Pure functions only: :class:`bot.sandbox.slack.FakeSlack` turns its state into a list of
entries (:class:`Thread`, :class:`Private`, :class:`Modal`) in time order and :func:`render`
lays them out::

    #C_GENERAL
      bot: 📤 SMS from @alice to +49 151 12345678 — 1 SMS — ✅ accepted  (edited)
        └ bot: ✅ accepted by sipgate
      (only visible to you, alice) bot: …
    DM with alice
      bot: …
    [modal opened for alice: "Send an SMS" — fields: To, Message, When]

Text that Slack parses as markup (message ``text``, ``mrkdwn`` objects) is decoded: user
mentions become ``@name`` and ``&lt;`` ``&gt;`` ``&amp;`` turn back into ``<`` ``>`` ``&``.
``plain_text`` objects are shown exactly as sent, as Slack does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack.markup import unescape_slack

JsonMap = Mapping[str, Any]
Names = Mapping[str, str]

INDENT = "  "
REPLY_MARK = "  └ "
EDITED_MARK = "  (edited)"
DELETED_TEXT = "(this message was deleted)"


@dataclass(frozen=True)
class Post:
    """One message as posted: its author's user id, fallback ``text`` and Block Kit blocks."""

    author: str
    text: str = ""
    blocks: Sequence[JsonMap] | None = None
    edited: bool = False


@dataclass(frozen=True)
class Thread:
    """A message everyone in ``channel`` sees, with its thread replies (``None``: unknown)."""

    channel: str | None
    parent: Post
    replies: Sequence[Post] = ()


@dataclass(frozen=True)
class Private:
    """An ephemeral message only ``viewer`` sees (``chat.postEphemeral`` or a response_url)."""

    channel: str | None
    viewer: str | None
    post: Post


@dataclass(frozen=True)
class Modal:
    """A modal that was opened (or updated) for ``viewer``."""

    viewer: str | None
    view: JsonMap
    updated: bool = False


Entry = Thread | Private | Modal


def render(entries: Sequence[Entry], names: Names) -> str:
    """The whole conversation; a header line whenever the conversation changes."""
    lines: list[str] = []
    current: str | None = None
    for entry in entries:
        header, body = entry_lines(entry, names)
        if header is not None and header != current:
            lines.append(header)
        current = header
        lines.extend(body)
    return "".join(f"{line}\n" for line in lines)


def entry_lines(entry: Entry, names: Names) -> tuple[str | None, list[str]]:
    """The conversation header an entry belongs under (``None``: none) and its lines."""
    if isinstance(entry, Modal):
        return None, [modal_line(entry, names)]
    header = conversation_title(entry.channel, names) if entry.channel else None
    indent = INDENT if header else ""
    if isinstance(entry, Private):
        return header, post_lines(indent + private_prefix(entry.viewer, names), entry.post, names)
    return header, thread_lines(indent, entry, names)


def thread_lines(indent: str, thread: Thread, names: Names) -> list[str]:
    """A parent message followed by its replies, indented under it."""
    lines = post_lines(indent, thread.parent, names)
    for reply in thread.replies:
        lines.extend(post_lines(indent + REPLY_MARK, reply, names))
    return lines


def private_prefix(viewer: str | None, names: Names) -> str:
    """``(only visible to you, alice) `` — the name is left out when nobody is known."""
    if viewer is None:
        return "(only visible to you) "
    return f"(only visible to you, {names.get(viewer, viewer)}) "


def post_lines(lead: str, post: Post, names: Names) -> list[str]:
    """``<lead><author>: <text>``; further lines of the text are aligned under the first."""
    author = f"{names.get(post.author, post.author)}: " if post.author else ""
    first, *rest = post_text(post, names).split("\n")
    head = f"{lead}{author}"
    lines = [(head + first).rstrip(), *((" " * len(head) + line).rstrip() for line in rest)]
    if post.edited:
        lines[-1] += EDITED_MARK
    return lines


def post_text(post: Post, names: Names) -> str:
    """What a message shows: its blocks if any render to text, else its ``text``."""
    shown = blocks_text(post.blocks or (), names)
    return shown or mrkdwn_to_plain(post.text, names)


def conversation_title(channel: str, names: Names) -> str:
    """``#C_GENERAL`` for a channel, ``DM with alice`` for the sandbox's ``D_<user>`` DMs."""
    if channel.startswith("D_"):
        user = channel.removeprefix("D_")
        return f"DM with {names.get(user, user)}"
    if channel.startswith("D"):
        return f"DM {channel}"
    return f"#{channel}"


def modal_line(modal: Modal, names: Names) -> str:
    """``[modal opened for alice: "Send an SMS" — fields: To, Message, When]``."""
    verb = "updated" if modal.updated else "opened"
    who = f" for {names.get(modal.viewer, modal.viewer)}" if modal.viewer else ""
    title = text_object(modal.view.get("title"), names)
    labels = [text_object(b.get("label"), names) for b in _blocks(modal.view, "input")]
    fields = f" — fields: {', '.join(labels)}" if labels else ""
    return f'[modal {verb}{who}: "{title}"{fields}]'


def _blocks(view: JsonMap, kind: str) -> list[JsonMap]:
    return [b for b in view.get("blocks") or () if isinstance(b, Mapping) and b.get("type") == kind]


# --- Block Kit -------------------------------------------------------------------------------


def blocks_text(blocks: Sequence[JsonMap], names: Names) -> str:
    """The readable text of a message's blocks, one block per line."""
    parts = (block_text(block, names) for block in blocks)
    return "\n".join(part for part in parts if part)


def block_text(block: JsonMap, names: Names) -> str:
    """The readable text of one block; block types without text give ``""``."""
    renderer = _BLOCK_RENDERERS.get(str(block.get("type")))
    return renderer(block, names) if renderer else ""


def section_text(block: JsonMap, names: Names) -> str:
    """Section ``text``, then its ``fields`` (``a | b``), then an accessory button."""
    fields = " | ".join(text_object(f, names) for f in block.get("fields") or ())
    accessory = element_text(block.get("accessory") or {}, names)
    parts = (text_object(block.get("text"), names), fields)
    body = "\n".join(part for part in parts if part)
    return f"{body} {accessory}".strip() if accessory else body


def context_text(block: JsonMap, names: Names) -> str:
    """The text elements of a context block, side by side (images are left out)."""
    texts = (text_object(el, names) for el in block.get("elements") or ())
    return "  ".join(text for text in texts if text)


def header_text(block: JsonMap, names: Names) -> str:
    """A header block's (plain) text."""
    return text_object(block.get("text"), names)


def actions_text(block: JsonMap, names: Names) -> str:
    """Interactive elements in a row: buttons as ``[Cancel]``."""
    texts = (element_text(el, names) for el in block.get("elements") or ())
    return " ".join(text for text in texts if text)


DIVIDER = "────"


def home_tab(view: JsonMap, viewer: str, names: Names) -> str:
    """A published home tab as its viewer sees it, headed ``[home tab of alice]``; its
    dividers as short rules."""
    blocks = view.get("blocks") or ()
    parts = (DIVIDER if b.get("type") == "divider" else block_text(b, names) for b in blocks)
    body = "\n".join(part for part in parts if part)
    lines = [INDENT + line if line else "" for line in body.split("\n")]
    return "\n".join([f"[home tab of {names.get(viewer, viewer)}]", *lines])


def image_text(block: JsonMap, names: Names) -> str:
    """An image block as ``[image: <alt text>]``."""
    return f"[image: {block.get('alt_text', '')}]"


def element_text(element: JsonMap, names: Names) -> str:
    """A button as ``[label]``; another input element as ``[<placeholder or type>]``."""
    kind = element.get("type")
    if not kind or kind == "image":
        return ""
    label = element.get("text") if kind == "button" else element.get("placeholder")
    return f"[{text_object(label, names) or kind}]"


def text_object(obj: object, names: Names) -> str:
    """A composition text object: ``mrkdwn`` decoded, ``plain_text`` exactly as sent."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    return mrkdwn_to_plain(text, names) if obj.get("type") == "mrkdwn" else text


_BLOCK_RENDERERS: dict[str, Callable[[JsonMap, Names], str]] = {
    "section": section_text,
    "context": context_text,
    "header": header_text,
    "actions": actions_text,
    "image": image_text,
}


# --- mrkdwn ----------------------------------------------------------------------------------

_ENTITY = re.compile(r"<([^<>]*)>")


def mrkdwn_to_plain(text: str, names: Names) -> str:
    """Decode Slack markup: ``<@U1>`` → ``@alice``, ``<url|label>`` → ``label``, ``&lt;`` → <."""
    return unescape_slack(_ENTITY.sub(lambda match: entity_text(match.group(1), names), text))


def entity_text(inner: str, names: Names) -> str:
    """What one ``<…>`` entity shows: mentions, channels, special mentions, links."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user = target[1:]
        return "@" + names.get(user, label or user)
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith(("!subteam^", "!date^")):
        return label or target
    if target.startswith("!"):
        return "@" + target[1:]
    return label or target


# --- response_url posts ----------------------------------------------------------------------


def settle_responses(
    posts: Sequence[tuple[int, str, JsonMap]],
) -> dict[int, tuple[JsonMap, bool]]:
    """Which response_url posts are still on screen.

    ``posts`` are ``(index, url, body)`` in order. Returns ``{index: (body shown, edited)}``
    keyed by the post that first took that place on screen: a ``replace_original`` post
    replaces what the same url showed last, a ``delete_original`` post removes it.
    """
    shown: dict[int, tuple[JsonMap, bool]] = {}
    last: dict[str, int] = {}
    for index, url, body in posts:
        slot = last.pop(url, None)
        if body.get("delete_original"):
            if slot is not None:
                del shown[slot]
        elif body.get("replace_original") and slot is not None:
            shown[slot], last[url] = (body, True), slot
        else:
            shown[index], last[url] = (body, False), index
    return shown
