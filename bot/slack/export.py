"""The audit export to an admin's DM: ``/sms export [days]`` and the home tab's Export buttons.

The core streams the rows (``Export``) into a temporary file, batch by batch, and slack_sdk's
``files_upload_v2`` shares it in the admin's DM with the bot (the conversation
``conversations.open`` gives). ``files_upload_v2`` reads the finished file to upload it. The
file starts with a UTF-8 byte order mark, so spreadsheet apps read umlauts right.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from bot.core import Export, last_days
from bot.slack import texts
from bot.slack.context import SlackContext


async def export_to_dm(ctx: SlackContext, user_id: str, days: int) -> str:
    """Upload the export of the last ``days`` days to the person's DM; what to tell them."""
    channel = await ctx.web.dm_channel(user_id)
    if channel is None:
        return texts.export_failed("conversations.open")
    now = ctx.service.clock()
    export = Export(ctx.service.ledger, last_days(now, days))
    with tempfile.TemporaryDirectory(prefix="sms-export-") as folder:
        path = Path(folder) / file_name(export, now)
        await write(export, path)
        comment = texts.export_comment(export.rows, days)
        failed = await ctx.web.upload(channel, path, texts.export_title(days), comment)
    return texts.export_failed(failed) if failed else texts.export_done(export.rows, days)


def file_name(export: Export, now: datetime) -> str:
    return f"sms-export-{export.period.start:%Y-%m-%d}-to-{now:%Y-%m-%d}.{export.format.value}"


async def write(export: Export, path: Path) -> None:
    """The export into ``path``, one batch at a time."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        async for chunk in export.chunks():
            out.write(chunk)
