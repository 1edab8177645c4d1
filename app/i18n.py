"""The chat page's words in Chinese and English (one table: the template and the page's JS both read it)."""

from __future__ import annotations

from typing import Literal

UiLanguage = Literal["zh", "en"]

STRINGS: dict[UiLanguage, dict[str, str]] = {
    "zh": {
        "title": "讲话原话问答",
        "tagline": "只用发言人的原话回答，每一句都注明出处。",
        "switch_language": "English",
        "switch_language_label": "Switch to English",
        "new_chat": "新对话",
        "filter_label": "发言人",
        "filter_all": "全部",
        "input_label": "问题",
        "input_placeholder": "输入问题，例如：张平安如何看待马栏山？",
        "send": "发送",
        "hint": "Enter 发送 · Shift+Enter 换行",
        "welcome_title": "可以这样问",
        "welcome_text": "中文、英文都可以问；追问时可以直接说“他还说了什么？”。",
        "you": "问",
        "only_speaker": "仅限：{name}",
        "pending": "正在查找原话…",
        "lead_who": "是{name}说的：",
        "lead_multi": "共有{n}位发言人谈到这一点：",
        "lead_more": "{name}还谈到：",
        "more_quotes": "另外 {n} 条相关原话",
        "not_found_title": "没有找到答案",
        "not_found_text": "收录的讲话和报道中没有找到相关内容。",
        "closest_toggle": "最接近的段落（仅供参考，并非答案）",
        "closest_badge": "非答案",
        "show_paragraph": "展开整段",
        "hide_paragraph": "收起整段",
        "open_speech": "查看全文",
        "copy": "复制",
        "copied": "已复制",
        "copy_failed": "复制失败，请手动选择文字",
        "editor_note": "编者按",
        "report_text": "报道原文",
        "reported_by": "据{source}报道",
        "reported_plain": "据报道",
        "reported_note": "转述，非原话",
        "asked_by": "{who}问",
        "question_label": "问",
        "page": "第{n}页",
        "feedback_question": "这个回答有帮助吗？",
        "helpful": "有帮助",
        "not_helpful": "没有帮助",
        "comment_placeholder": "补充说明（可选）：哪里不对，或者应该引用哪段话？",
        "comment_send": "提交说明",
        "thanks": "谢谢反馈！",
        "comment_saved": "说明已保存。",
        "feedback_failed": "反馈没有保存成功，请重试。",
        "error_title": "出错了",
        "error_network": "无法连接服务器，请检查网络后重试。",
        "error_busy": "服务器正忙，请稍后重试。",
        "error_loading": "索引还在加载，请稍后重试。",
        "error_server": "服务器处理出错，请重试。",
        "error_too_large": "请求太大：请缩短问题，或开始新对话。",
        "retry": "重试",
        "panel_title": "发言全文",
        "close": "关闭",
        "loading": "正在加载…",
        "not_found_speech": "找不到这篇发言。",
        "source": "来源",
        "section": "小标题",
        "chars_left": "还可输入 {n} 字",
        "too_long": "问题最多 {n} 字，请缩短后再发送。",
        "api_docs": "API 文档",
        "elapsed": "用时 {ms} 毫秒",
        "cached": "（缓存）",
        "paragraph": "第 {n} 段",
        "skip_to_input": "跳到提问框",
        "conversation": "对话",
        "speakers_unavailable": "发言人列表暂时无法加载。",
        "resolved_as": "理解为：{q}",
    },
    "en": {
        "title": "Speech Quotes",
        "tagline": "Answers only in the speakers' own words, every quote attributed.",
        "switch_language": "中文",
        "switch_language_label": "切换到中文",
        "new_chat": "New conversation",
        "filter_label": "Speaker",
        "filter_all": "All",
        "input_label": "Question",
        "input_placeholder": "Ask a question, e.g. Who talked about talent?",
        "send": "Send",
        "hint": "Enter to send · Shift+Enter for a new line",
        "welcome_title": "Try asking",
        "welcome_text": "Ask in Chinese or English; follow up with “What else did he say?”.",
        "you": "Q",
        "only_speaker": "Only: {name}",
        "pending": "Looking for the speakers' words…",
        "lead_who": "{name} said:",
        "lead_multi": "{n} speakers address this:",
        "lead_more": "{name} also said:",
        "more_quotes": "{n} more related quotes",
        "not_found_title": "No answer found",
        "not_found_text": "None of the speeches or reports addresses this.",
        "closest_toggle": "Closest passages (for reference only, not an answer)",
        "closest_badge": "Not an answer",
        "show_paragraph": "Show paragraph",
        "hide_paragraph": "Hide paragraph",
        "open_speech": "Full speech",
        "copy": "Copy",
        "copied": "Copied",
        "copy_failed": "Copy failed; please select the text",
        "editor_note": "Editor's note",
        "report_text": "Report (the writer's own words)",
        "reported_by": "As reported by {source}",
        "reported_plain": "As reported",
        "reported_note": "reported speech, not a verbatim quote",
        "asked_by": "Asked by {who}",
        "question_label": "Question",
        "page": "p. {n}",
        "feedback_question": "Was this helpful?",
        "helpful": "Helpful",
        "not_helpful": "Not helpful",
        "comment_placeholder": "Comment (optional): what was wrong, or which passage should it quote?",
        "comment_send": "Send comment",
        "thanks": "Thanks for the feedback!",
        "comment_saved": "Comment saved.",
        "feedback_failed": "The feedback was not saved; please try again.",
        "error_title": "Something went wrong",
        "error_network": "Could not reach the server. Check the connection and try again.",
        "error_busy": "The server is busy; please try again in a moment.",
        "error_loading": "The index is still loading; please try again in a moment.",
        "error_server": "The server had a problem; please try again.",
        "error_too_large": "The request is too large: shorten the question or start a new conversation.",
        "retry": "Retry",
        "panel_title": "Full speech",
        "close": "Close",
        "loading": "Loading…",
        "not_found_speech": "This speech could not be found.",
        "source": "Source",
        "section": "Section",
        "chars_left": "{n} characters left",
        "too_long": "Questions are limited to {n} characters; please shorten it.",
        "api_docs": "API docs",
        "elapsed": "{ms} ms",
        "cached": " (cached)",
        "paragraph": "¶ {n}",
        "skip_to_input": "Skip to the question box",
        "conversation": "Conversation",
        "speakers_unavailable": "The speaker list could not be loaded.",
        "resolved_as": "Understood as: {q}",
    },
}

# Questions the real corpus answers well (checked against the index), shown on a first visit.
EXAMPLES: dict[UiLanguage, list[str]] = {
    "zh": [
        "中国移动目前全国客户规模有多少？",
        "张平安如何看待马栏山？",
        "哪些企业家提到了马栏山？",
        "比亚迪在湖南有哪些布局？",
    ],
    "en": [
        "Who talked about talent?",
        "What did Huawei Cloud's CEO say about Malanshan?",
        "How many customers does China Mobile have?",
        "Which speakers mentioned AI?",
    ],
}


def pick_language(accept_language: str | None) -> UiLanguage:
    """zh when the browser prefers Chinese, otherwise en (the page's JS refines this from navigator.language)."""
    best: tuple[float, UiLanguage] | None = None
    for part in (accept_language or "").split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        if not tag:
            continue
        q = 1.0
        for p in pieces[1:]:
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        lang: UiLanguage | None = "zh" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else "en"
