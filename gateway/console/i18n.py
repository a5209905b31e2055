"""The console's two languages. Keys are the English text; ``zh`` maps them to Chinese.

The control, label and navigation names are exactly the contract's (PRODUCT.md, "The web
console"), so a person and a browser test find the same buttons in either language.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.rules import category_words

LANGS = ("en", "zh")

ZH: dict[str, str] = {
    # controls (contract)
    "Sign in": "登录",
    "Claim": "认领",
    "Reply": "回复",
    "Resolve": "解决",
    "Send": "发送",
    "Edit": "修改",
    "Recall": "撤回",
    "Approve": "批准",
    "Reject": "拒绝",
    # labels (contract)
    "Name": "用户名",
    "Password": "密码",
    "Audience": "受众",
    "Message": "消息",
    # the queue's parked entries (gateway.funnel.deadletters)
    "Messages that became no ticket": "未能生成工单的消息",
    "Palm received these but could not file them as tickets. Reach the residents in "
    "their own app; the operator has the details.": (
        "掌上社区收到了这些消息，但未能登记为工单。请在居民自己的应用里联系他们；详情可询问运维人员。"
    ),
    "Told that staff will get back to them": "已告知居民：工作人员会联系他们",
    "Got no answer": "居民未收到回复",
    "Handled": "已处理",
    "File again": "重新登记",
    "Someone reached the resident: remove it from this list": "已联系居民：从列表中移除",
    "Palm tries again to file it as a ticket": "掌上社区再次尝试将它登记为工单",
    "The newest {shown} of {n} are shown; the operator can list them all.": (
        "此处列出最新的 {shown} 条，共 {n} 条；运维人员可以列出全部。"
    ),
    "Note": "备注",
    # navigation (contract)
    "Queue": "工单",
    "Announce": "发布通知",
    "Chats": "群聊",
    "Polls": "投票",
    "Overview": "概览",
    # everything else
    "Palm console": "掌上社区 · 控制台",
    "Sign out": "退出",
    "Scope": "范围",
    "everything": "全部",
    "Role": "角色",
    "viewer": "查看者",
    "staff": "工作人员",
    "admin": "管理员",
    "Status": "状态",
    "Kind": "类型",
    "all": "全部",
    "new": "新",
    "claimed": "已认领",
    "resolved": "已解决",
    "report": "报修",
    "reply": "回复通知",
    "message": "私信",
    "urgent": "紧急",
    "normal": "普通",
    "Filter": "筛选",
    "Ticket": "工单号",
    "Category": "分类",
    "Resident": "居民",
    "Chat": "会话",
    "Received": "收到时间",
    "Assignee": "处理人",
    "No tickets.": "没有工单。",
    "Older tickets": "更早的工单",
    "Live": "实时",
    "Offline: reconnecting": "连接中断，正在重连",
    "Conversation": "对话",
    "History": "记录",
    "Sent to the resident": "已发给居民",
    "location": "位置",
    "photo": "图片",
    "file": "文件",
    "Force (take it over)": "强制（接手）",
    "Title": "标题",
    "Urgent": "紧急",
    "Residents must confirm": "需要居民确认",
    "Remind": "提醒",
    "Not reminded: every chat still waiting was reminded within the last hour. "
    "The next reminder can go at {at} (in {m} min).": (
        "未发送提醒：尚有未确认居民的群聊在过去一小时内都已提醒过。"
        "下次可在 {at} 提醒（{m} 分钟后）。"
    ),
    "Next reminder possible at {at}.": "下次可提醒时间：{at}。",
    "Confirmations": "确认情况",
    "confirmed": "已确认",
    "Confirmed": "已确认",
    "Not yet": "未确认",
    "known": "人",
    "members": "名成员",
    "By chat": "按群聊",
    "By building": "按楼栋",
    "Building": "楼栋",
    "Households confirmed": "已确认户数",
    "No households are bound in the buildings this reached.": "送达的楼栋里还没有绑定住户。",
    "Not yet, bound to no unit": "未确认且未绑定房号",
    "Reminders sent in {n} chats.": "已在 {n} 个群聊发送提醒。",
    "Reminders sent in 1 chat.": "已在 1 个群聊发送提醒。",
    "Reminds who has not confirmed, at most once an hour per chat.": (
        "提醒尚未确认的居民，每个群聊每小时最多一次。"
    ),
    "Send at (optional)": "定时发送（可选）",
    "Local time zone": "本地时区",
    "Attachments": "附件",
    "Up to {n} files, {mb} MB each": "最多 {n} 个文件，每个不超过 {mb} MB",
    "Preview": "预览",
    "Matches": "匹配",
    "chats": "个群聊",
    "Telegram": "Telegram",
    "Matrix": "Matrix",
    "Announcement": "通知",
    "Announcements": "通知",
    "Deliveries": "投递",
    "State": "状态",
    "Reason": "原因",
    "Results": "结果",
    "Replies": "回复",
    "Created by": "发布人",
    "Progress": "进度",
    "sent": "已发送",
    "failed": "失败",
    "queued": "排队中",
    "recalled": "已撤回",
    "Tags": "标签",
    "Active": "可用",
    "inactive": "不可用",
    "Pending approval": "待批准",
    "No chats.": "没有群聊。",
    "No polls.": "没有投票。",
    "Poll": "投票",
    "Question": "问题",
    "Voters": "投票人数",
    "Turnout": "参与",
    "residents": "位居民",
    "households": "户",
    "Platform": "平台",
    "By platform": "按平台",
    "No votes yet.": "还没有人投票。",
    "Closes at": "截止时间",
    "Closed at": "结束时间",
    "Several answers": "可多选",
    "Open": "投票中",
    "Closed": "已结束",
    "New poll": "新建投票",
    "Options (one a line, at least two)": "选项（每行一个，至少两个）",
    "Multiple answers": "可多选",
    "Closes at (optional)": "截止时间（可选）",
    "Create poll": "发起投票",
    "Close": "结束投票",
    "Save tags": "保存标签",
    "(unknown)": "（未知）",
    "Queue depth": "积压工单",
    "Oldest new ticket (minutes)": "最早的新工单（分钟）",
    "last 24 h": "近 24 小时",
    "First response": "首次回复用时",
    "Deliveries by result": "投递结果",
    "no data yet": "暂无数据",
    "Wrong name or password.": "用户名或密码错误。",
    "Too many failed sign-ins: try again in {s} s.": "登录失败次数过多：请 {s} 秒后再试。",
    "Your session has expired: please sign in again.": "会话已过期：请重新登录。",
    "The form expired: please try again.": "表单已过期：请重试。",
    "Your role cannot do this.": "你的角色无权这样做。",
    "Working": "处理中",
    "seconds": "秒",
    "Recent announcements": "最近的通知",
    "Sending": "发送中",
    "Scheduled for": "定时于",
    "Read only: your role is viewer.": "只读：你的角色是查看者。",
    "Language": "语言",
    "acknowledgement": "确认回执",
    "acknowledgement updated: being handled": "确认回执已更新：正在处理",
    "acknowledgement updated: resolved": "确认回执已更新：已解决",
    "superseded": "已被取代",
    "acknowledgement not updated to “being handled”: a later update replaced it": (
        "确认回执未改为“正在处理”：已被后来的更新取代"
    ),
    "acknowledgement not updated to “resolved”: a later update replaced it": (
        "确认回执未改为“已解决”：已被后来的更新取代"
    ),
    "update not made: a later one replaced it": "未更新：已被后来的更新取代",
    "message from palm": "系统消息",
    "created": "创建",
    "resident": "居民",
    "replied": "已回复",
    "priority": "优先级提升",
    "open": "未解决",
    "now": "现在",
    "latest": "最新",
    "24 h ago": "24 小时前",
    "Since": "时间",
    "active": "可用",
    "pending": "待批准",
    "rejected": "已拒绝",
    "direct chats with residents": "个居民私聊",
    "direct chat with a resident": "个居民私聊",
    "direct chat": "私聊",
    "group chat": "群聊",
    "highest": "最高",
    "{n} tickets answered": "已答复 {n} 个工单",
    "half of them within": "一半在此时间内",
    "9 in 10 within": "90% 在此时间内",
    "99 in 100 within": "99% 在此时间内",
    "announcements of the last 24 h": "近 24 小时的通知",
    "sending": "发送中",
    "done": "完成",
    "edited": "已修改",
    "scheduled": "已定时",
    "running": "进行中",
    "not possible": "无法完成",
    "cancelled": "已取消",
    "updated": "已更新",
    "skipped": "已跳过",
    "Back to the queue": "返回工单",
    "Nothing matches this audience.": "没有群聊匹配此受众。",
    "Quick picks": "快速选择",
    "Pick:": "快速选择：",
    "All groups": "所有群聊",
    "My whole scope": "我负责的全部",
    # why a delivery failed (gateway/console/reasons.py)
    "Replaced by a later edit.": "已被之后的修改取代。",
    "Given up: palm stopped while sending it, several times.": "已放弃：palm 多次在发送途中中断。",
    "No answer after sending: it may have arrived.": "发出后没有回应：可能已经送达。",
    "An internal error: the operator finds it in palm's log.": (
        "内部错误：运维人员可在 palm 日志中查到。"
    ),
    "The group was upgraded twice while sending.": "发送途中该群升级了两次。",
    "Rejected, but the bot could not leave the chat.": "已拒绝，但机器人无法退出该会话。",
    "The resident has blocked the bot.": "居民已屏蔽机器人。",
    "The resident's account was deleted.": "居民的账号已注销。",
    "The bot was removed from this chat.": "机器人已被移出此会话。",
    "The bot left this room.": "机器人已退出此房间。",
    "This chat no longer exists.": "此会话已不存在。",
    "The bot may not post in this chat.": "机器人在此会话中没有发言权限。",
    "The message is too long for the platform.": "消息超出了平台的长度限制。",
    "Too old to recall: Telegram lets a bot recall its messages for 48 hours.": (
        "消息太久，无法撤回：Telegram 只允许机器人撤回 48 小时内的消息。"
    ),
    "This message can no longer be changed on the platform.": "此消息在平台上已无法修改。",
    "The room did not let the bot remove the message.": "房间不允许机器人删除这条消息。",
    "An encrypted room, and palm's encryption is switched off.": (
        "这是加密房间，而 palm 的端到端加密未开启。"
    ),
    "The room has devices nobody has verified (trust: verified).": (
        "房间里有未经验证的设备（trust: verified）。"
    ),
    "The platform asked palm to slow down.": "平台要求放慢发送速度。",
    "The platform could not be reached.": "无法连接到平台。",
    "Not sent after {n} tries.": "尝试 {n} 次仍未发出。",
    "The chat is no longer active.": "此会话已停用。",
    "Not delivered. The platform said:": "未送达。平台的原话：",
    "Each chat's delivery record was removed on {at}, after the retention period; the "
    "counts above stay. It can no longer be edited or recalled.": (
        "各会话的发送记录已在保留期满后于 {at} 清理；上面的统计仍在。此通知已无法修改或撤回。"
    ),
}


def category(name: str, lang: str) -> str:
    """A ticket's category in words in ``lang`` (``gateway.rules.CATEGORY_WORDS``)."""
    return category_words(name, lang)


def pick(accept_language: str | None, cookie: str | None, default: str) -> str:
    """The language: the switch's cookie, else the browser's first zh/en, else ``default``."""
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGS and q > 0:
            ranked.append((-q, i, base))
    return sorted(ranked)[0][2] if ranked else default


def translator(lang: str) -> Callable[..., str]:
    def t(text: str, **values: object) -> str:
        out = ZH.get(text, text) if lang == "zh" else text
        return out.format(**values) if values else out

    return t
