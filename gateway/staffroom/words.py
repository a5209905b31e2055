"""Every text palm posts in a staff room, in the room's language (``config.locale``):
the cards (``gateway.staffroom.cards``) and the bot's answers to commands and buttons.

Staff read them in their own chat app, so they are words, never palm's codes. A core
error (``{why}``) is quoted in the room's language (``GatewayError.say``); a platform's
own message, which has no Chinese, as it is.
"""

from __future__ import annotations

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "from": "From: {who} ({platform}, {where})",
        "direct": "direct chat",
        "group": "group chat",
        "urgent": "urgent",
        "normal": "normal",
        "attachments": "attachments",
        "new": "new: reply to this message to answer the resident; /claim, /resolve NOTE",
        "claimed": "being handled by {who}",
        "answered": "answered by {who} at {when}",
        "resolved": "resolved by {who} after {took}",
        "note": "note: {note}",
        "claim": "Claim",
        "resolve": "Resolve",
        "status_claimed": "Status: being handled by {who}",
        "status_resolved": "Status: resolved after {took}",
        "follow": "{ticket} · {who} wrote:",
        # answers to /queue, /announce, /confirm, replies and buttons
        "no_open": "No open tickets.",
        "oldest": "The {n} oldest open tickets:",
        "parked": "{n} message(s) from residents became no ticket: reach those residents; "
        "they are listed on the console's queue page.",
        "preview": "Preview: to {expr} ({matched})\n{chats}\n\n{text}\n\n"
        "Reply /confirm (or press Send) within {minutes} minutes to send it.",
        "send": "Send",
        "and_more": " and {n} more",
        "expired": "This preview has expired (10 minutes): send /announce again.",
        "confirm_how": "/confirm works as a reply to an announcement preview.",
        "announce_usage": "usage: /announce EXPR | TEXT, for example /announce building:5 | "
        "Water off",
        "announce_refused": "/announce: {why}",
        "not_sent": "Not sent: {why}",
        "sending": "{ann}: sending to {n} chats (confirmed by {who})",
        "sending_one": "{ann}: sending to 1 chat (confirmed by {who})",
        "report_all": "{ann}: sent to all {n} chats.",
        "report_some": "{ann}: sent to {sent} of {n} chats; {failed} not sent:",
        "report_line": "• {chat}: {why}",
        "report_more": "… and {n} more: see the console.",
        "already_resolved": "{tid}: already resolved",
        "already_claimed": "{tid}: already claimed by {who}",
        "refused": "{tid}: {why}",
        "not_now": "{tid}: not possible now ({why})",
        "members_only": "Only members of this staff room can do that.",
        "unknown_card": "This card is no longer known.",
        "claimed_by": "{tid}: claimed by {who}",
        "resolved_ok": "{tid}: resolved",
        "unknown_button": "Unknown button.",
        # a parked resident's message (gateway.staffroom.parked)
        "parked_card": "⚠ Not filed as a ticket · {who} ({where})\n{text}",
        "parked_told": "The resident was told that staff will get back to them.",
        "parked_untold": "The resident got no answer.",
        "parked_how": "Reach them, then press Handled or reply /handled. File again (/retry) "
        "tries to file it as a ticket once more.",
        "handled_button": "Handled",
        "retry_button": "File again",
        "parked_handled": "✓ Handled by {who}",
        "parked_retried": "↻ Filed again by {who}: a ticket follows if it works",
        "parked_gone": "This message was handled already.",
        "parked_usage": "/handled and /retry work as a reply to a message that became no ticket.",
        "colon": ": ",
    },
    "zh": {
        "from": "来自：{who}（{platform}，{where}）",
        "direct": "私聊",
        "group": "群聊",
        "urgent": "紧急",
        "normal": "普通",
        "attachments": "个附件",
        "new": "新工单：回复本消息即可答复居民；/claim 认领，/resolve 备注 解决",
        "claimed": "{who} 正在处理",
        "answered": "{who} 已答复（{when}）",
        "resolved": "{who} 已解决，用时 {took}",
        "note": "备注：{note}",
        "claim": "认领",
        "resolve": "解决",
        "status_claimed": "状态：{who} 正在处理",
        "status_resolved": "状态：已解决，用时 {took}",
        "follow": "{ticket} · {who} 补充：",
        "no_open": "没有未解决的工单。",
        "oldest": "最早的 {n} 个未解决工单：",
        "parked": "有 {n} 条居民消息未能生成工单，请联系这些居民：见控制台的工单页。",
        "preview": "预览：发给 {expr}（{matched}）\n{chats}\n\n{text}\n\n"
        "请在 {minutes} 分钟内回复 /confirm（或点「发送」）发出。",
        "send": "发送",
        "and_more": " 等 {n} 个",
        "expired": "此预览已过期（10 分钟）：请重新发送 /announce。",
        "confirm_how": "/confirm 要作为对通知预览的回复发送。",
        "announce_usage": "请按「/announce 受众 | 内容」的格式发送，"
        "例如 /announce building:5 | 明天 9:00 至 12:00 停水",
        "announce_refused": "无法发布通知：{why}",
        "not_sent": "未发送：{why}",
        "sending": "{ann}：正在发往 {n} 个会话（{who} 确认）",
        "sending_one": "{ann}：正在发往 1 个会话（{who} 确认）",
        "report_all": "{ann}：已发到全部 {n} 个会话。",
        "report_some": "{ann}：已发到 {sent}/{n} 个会话，{failed} 个未发出：",
        "report_line": "• {chat}：{why}",
        "report_more": "……另有 {n} 个，详见控制台。",
        "already_resolved": "{tid}：已解决",
        "already_claimed": "{tid}：已由 {who} 认领",
        "refused": "{tid}：{why}",
        "not_now": "{tid}：暂时无法操作（{why}）",
        "members_only": "只有本工作群的成员可以操作。",
        "unknown_card": "找不到这张工单卡片了。",
        "claimed_by": "{tid}：{who} 已认领",
        "resolved_ok": "{tid}：已解决",
        "unknown_button": "未知按钮。",
        "parked_card": "⚠ 未能生成工单 · {who}（{where}）\n{text}",
        "parked_told": "已告知居民工作人员会联系他们。",
        "parked_untold": "居民未收到回复。",
        "parked_how": "联系居民后请点“已处理”或回复 /handled；"
        "“重新登记”（/retry）会再次尝试登记为工单。",
        "handled_button": "已处理",
        "retry_button": "重新登记",
        "parked_handled": "✓ 已由 {who} 处理",
        "parked_retried": "↻ {who} 已重新登记：成功后会出现工单",
        "parked_gone": "这条消息已处理过了。",
        "parked_usage": "/handled 和 /retry 需回复一条未能生成工单的消息。",
        "colon": "：",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    """``key``'s text in ``lang`` (anything but ``zh`` reads English), filled in."""
    return _TEXT["zh" if lang == "zh" else "en"][key].format(**values)
