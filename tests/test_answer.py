"""The answer stage on the real index: excerpts, attribution, speaker-aware questions, abstention, follow-ups."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from rag import HistoryTurn, QuestionError, Settings, ask
from rag.compose import ExtractiveComposer
from rag.records import MAX_QUESTION_CHARS, Quote
from rag.textutil import SENTENCE_END, quotes_balanced
from rag.verify import answer_text_problem, quote_problem, verified

P = "wenhua-keji-zuotanhui-p"


def _first(index, settings, question: str, **kw):
    answer = ask(index, question, settings, **kw)
    assert answer.found, f"{question!r} was not answered: {answer.answer}"
    return answer, answer.quotes[0]


def _assert_verbatim(index, answer) -> None:
    for q in (*answer.quotes, *answer.closest):
        assert q.paragraph[q.start : q.end] == q.text
        chunk = index.chunk_by_id(q.paragraph_id)
        assert chunk is not None and chunk.text == q.paragraph
        assert (q.speaker, q.title, q.organization) == (chunk.speaker, chunk.title, chunk.organization)
        assert quote_problem(index, q) is None


# ------------------------------------------------------------------ excerpts


def test_factual_answer_quotes_the_sentence_with_the_figure(index, settings: Settings) -> None:
    answer, q = _first(index, settings, "中国移动目前全国客户规模有多少？")
    assert q.speaker == "张冬" and q.paragraph_id == P + "6"
    assert "10亿" in q.text
    assert q.text != q.paragraph and len(q.text) < len(q.paragraph)  # a sentence, not the whole paragraph
    assert not q.text.startswith("第三")
    assert answer.language == "zh" and answer.answer.startswith("“" + q.text + "”")
    assert "张冬" in answer.answer and "中国移动通信集团有限公司" in answer.answer
    _assert_verbatim(index, answer)


@pytest.mark.parametrize(
    ("question", "paragraph", "must_contain"),
    [
        ("刘庆峰建议在湖南构建哪两个底座？", "21", "两个底座"),
        ("宋起柱说中国广电将提供哪些信息化服务？", "11", "云计算"),
        ("金蝶为多少企业客户提供管理云服务？", "27", "700多万家"),
        ("拓维信息和华为在哪些方面进行了合作？", "35", "鸿蒙操作系统"),
        ("王杰认为中国要成为新能源汽车强国需要什么？", "24", "强大的汽车文化"),
    ],
)
def test_excerpts_are_whole_sentences_that_answer(
    index, settings: Settings, question: str, paragraph: str, must_contain: str
) -> None:
    answer, q = _first(index, settings, question)
    assert q.paragraph_id == P + paragraph
    assert must_contain in q.text
    before = q.paragraph[: q.start]
    assert q.start == 0 or before.rstrip()[-1] in SENTENCE_END + "；”"
    assert q.text.rstrip()[-1] in SENTENCE_END + "；”"
    assert quotes_balanced(q.text)
    _assert_verbatim(index, answer)


def test_one_sentence_paragraph_is_its_own_excerpt(index, settings: Settings) -> None:
    _, q = _first(index, settings, "王杰认为推进文化和科技融合意味着什么？")
    assert q.paragraph_id == P + "22"
    assert q.text == q.paragraph == "推进文化和科技融合是促进新质生产力发展的重要谋划。"


def test_excerpt_keeps_quotation_marks_balanced(index, settings: Settings) -> None:
    _answer, q = _first(index, settings, "徐少春建议把哪些品质打造成为湖南人的新标签？")
    assert q.paragraph_id == P + "28"
    assert "“敢想”" in q.text and quotes_balanced(q.text)


def test_layout_broken_paragraph_is_quoted_across_the_repaired_break(index, settings: Settings) -> None:
    _, q = _first(index, settings, "吴太兵说要研发自有的什么？")
    assert q.paragraph_id == P + "31"
    assert "研发自有的音视频“大脑”" in q.text


# ------------------------------------------------------------------ languages


@pytest.mark.parametrize(
    ("question", "speaker", "paragraph"),
    [
        ("How many customers does China Mobile have?", "张冬", "6"),
        ("What translation center did iFLYTEK build?", "刘庆峰", "20"),
        ("What does China Telecom plan for cultural data trading?", "徐守峰", "14"),
        ("Who said that culture is the goal and technology is the means?", "徐少春", "27"),
    ],
)
def test_english_questions_over_the_chinese_corpus(
    index, settings: Settings, question: str, speaker: str, paragraph: str
) -> None:
    answer, q = _first(index, settings, question)
    assert answer.language == "en"
    assert (q.speaker, q.paragraph_id) == (speaker, P + paragraph)
    assert q.speaker_en and q.organization_en in answer.answer
    assert "“" + q.text + "”" in answer.answer  # quotes stay in the original Chinese
    _assert_verbatim(index, answer)


def test_mixed_language_question(index, settings: Settings) -> None:
    answer, q = _first(index, settings, "BYD在长沙投资了什么项目？")
    assert answer.language == "mixed"
    assert q.speaker == "王杰" and q.paragraph_id == P + "23"
    assert "赛车场" in q.text or "新能源汽车科普馆" in q.text


# ------------------------------------------------------------------ speaker-aware


@pytest.mark.parametrize(
    ("question", "speaker"),
    [
        ("张平安如何看待马栏山？", "张平安"),
        ("讯飞在马栏山做了什么？", "刘庆峰"),
        ("科大讯飞如何看待人才？", "刘庆峰"),
        ("What did iFLYTEK say about talent?", "刘庆峰"),
        ("What does Huawei Cloud's CEO think about AI models?", "张平安"),
        ("比亚迪的副总裁怎么看汽车文化？", "王杰"),
        ("What did Kingdee's founder say about software?", "徐少春"),
        ("万兴怎么看创意软件行业？", "吴太兵"),
        ("What does Talkweb hope to do in the future?", "李新宇"),
    ],
)
def test_speaker_directed_questions_quote_that_speaker(index, settings: Settings, question: str, speaker: str) -> None:
    answer = ask(index, question, settings)
    assert answer.found and answer.quotes
    assert {q.speaker for q in answer.quotes} == {speaker}


def test_named_speaker_beats_another_speaker_on_the_same_topic(index, settings: Settings) -> None:
    _, q = _first(index, settings, "张平安如何看待马栏山？")
    assert q.paragraph_id == P + "17" and "马栏山" in q.text


@pytest.mark.parametrize(
    ("question", "speaker"),
    [
        ("谁提出要打造中国版的Adobe？", "吴太兵"),
        ("谁说文化是目的，科技是手段？", "徐少春"),
        ("Which speaker compared the needs of Hunan to Disney and Adobe?", "吴太兵"),
        ("Who said China Mobile has more than one billion customers?", "张冬"),
    ],
)
def test_who_questions_name_the_speaker_first(index, settings: Settings, question: str, speaker: str) -> None:
    answer, q = _first(index, settings, question)
    assert answer.intent == "who"
    assert q.speaker == speaker
    name = q.speaker_en if answer.language == "en" else q.speaker
    assert answer.answer.startswith(name)


def test_multi_speaker_question_groups_one_quote_per_speaker(index, settings: Settings) -> None:
    answer = ask(index, "哪些企业家提到了马栏山？", settings, top_k=10)
    assert answer.found and answer.intent == "multi"
    speakers = [q.speaker for q in answer.quotes]
    assert len(speakers) == len(set(speakers))  # one quote per speaker
    assert {"张平安", "刘庆峰", "李新宇", "徐少春", "徐守峰"} <= set(speakers)
    assert all("马栏山" in q.paragraph for q in answer.quotes)
    assert "编者按" not in speakers
    assert answer.answer.splitlines()[0] == f"共有{len(speakers)}位发言人谈到这一点："


def test_multi_speaker_question_in_english_respects_top_k(index, settings: Settings) -> None:
    answer = ask(index, "Who talked about talent?", settings, top_k=3)
    assert answer.found and answer.intent == "multi"
    assert 2 <= len(answer.quotes) <= 3
    assert len({q.speaker for q in answer.quotes}) == len(answer.quotes)
    assert all("人才" in q.paragraph for q in answer.quotes)
    assert answer.answer.startswith(f"{len(answer.quotes)} speakers address this")


def test_explicit_speaker_filter_and_unknown_speaker(index, settings: Settings) -> None:
    answer = ask(index, "人才", settings, speaker="Huawei Cloud")
    assert {q.speaker for q in answer.quotes} == {"张平安"}
    with pytest.raises(QuestionError, match=r"unknown speaker `马云`.*张冬"):
        ask(index, "人才", settings, speaker="马云")


# ------------------------------------------------------------------ abstention


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("腾讯的马化腾在座谈会上说了什么？", "zh"),  # a person/organisation who did not speak
        ("阿里巴巴在湖南投资了哪些项目？", "zh"),
        ("What did Elon Musk say about Tesla?", "en"),
        ("明天长沙的天气怎么样？", "zh"),  # topics nobody raised
        ("红烧肉怎么做才好吃？", "zh"),
        ("What is a good recipe for dumplings?", "en"),
        ("湖南去年的GDP是多少？", "zh"),  # facts the page does not contain
        ("What was Hunan's GDP growth rate last year?", "en"),
        ("特斯拉在上海的工厂产能是多少？", "zh"),
        ("Who won the football match last night?", "en"),
    ],
)
def test_unanswerable_questions_say_so_plainly(index, settings: Settings, question: str, language: str) -> None:
    answer = ask(index, question, settings)
    assert not answer.found, f"{question!r} should not be answered, got {answer.quotes[:1]}"
    assert answer.quotes == ()
    expected = (
        "收录的讲话和报道中没有找到相关内容。"
        if language == "zh"
        else "None of the speeches or reports addresses this."
    )
    assert answer.answer == expected
    assert len(answer.closest) <= 3  # nearest passages only in the separate, clearly-not-an-answer field
    _assert_verbatim(index, answer)


@pytest.mark.parametrize(
    "question",
    [
        "中国移动有多少用户？",  # paraphrase: the page says 客户
        "哪位企业家谈到了年轻人买车的偏好？",
        "What did the Malanshan Translation Center do?",
        "湖南应该如何培养音视频人才？",
    ],
)
def test_answerable_paraphrases_are_not_lost_to_abstention(index, settings: Settings, question: str) -> None:
    assert ask(index, question, settings).found


# ------------------------------------------------------------------ follow-ups


def _turn(answer) -> HistoryTurn:
    return HistoryTurn(answer.question, answer.answer, answer.speakers)


def test_follow_up_pronoun_resolves_to_the_previous_speaker(index, settings: Settings) -> None:
    first = ask(index, "刘庆峰说了什么？", settings)
    more = ask(index, "他还说了什么？", settings, history=[_turn(first)])
    assert more.found and {q.speaker for q in more.quotes} == {"刘庆峰"}
    assert more.quotes[0].paragraph_id != first.quotes[0].paragraph_id  # something not shown yet
    topic = ask(index, "他对人才怎么看？", settings, history=[_turn(first), _turn(more)])
    assert topic.quotes[0].speaker == "刘庆峰" and "人才" in topic.quotes[0].text


def test_elliptical_follow_up_keeps_the_topic_for_a_new_speaker(index, settings: Settings) -> None:
    first = ask(index, "张平安如何看待马栏山？", settings)
    other = ask(index, "那刘庆峰呢？", settings, history=[_turn(first)])
    assert other.found and other.quotes[0].speaker == "刘庆峰"
    assert "马栏山" in other.quotes[0].text


def test_english_follow_ups(index, settings: Settings) -> None:
    first = ask(index, "What did iFLYTEK's chairman say about Malanshan?", settings)
    assert first.quotes[0].speaker == "刘庆峰"
    huawei = ask(index, "What about Huawei?", settings, history=[_turn(first)])
    assert huawei.quotes[0].speaker == "张平安" and "马栏山" in huawei.quotes[0].text
    talent = ask(index, "What did he say about talent?", settings, history=[_turn(first), _turn(huawei)])
    assert talent.quotes[0].speaker == "张平安" and "人才" in talent.quotes[0].text


def test_question_naming_its_own_speaker_ignores_the_history(index, settings: Settings) -> None:
    first = ask(index, "刘庆峰说了什么？", settings)
    own = ask(index, "王杰如何评价湖南的文化底蕴？", settings, history=[_turn(first)])
    assert {q.speaker for q in own.quotes} == {"王杰"}


# ------------------------------------------------------------------ verification


def test_verification_drops_a_corrupted_quote_and_logs_it(index, settings: Settings, caplog) -> None:
    good = ask(index, "中国移动目前全国客户规模有多少？", settings).quotes[0]
    altered = dataclasses.replace(good, text=good.text.replace("10亿", "20亿"))
    misattributed = dataclasses.replace(good, speaker="刘庆峰")
    shifted = dataclasses.replace(good, start=good.start + 1)
    with caplog.at_level(logging.ERROR, logger="rag.verify"):
        kept = verified(index, [good, altered, misattributed, shifted])
    assert kept == [good]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "not the paragraph text" in messages and "attribution" in messages
    assert quote_problem(index, altered) is not None


def test_composer_cannot_put_words_in_a_speakers_mouth(index, settings: Settings, caplog) -> None:
    class InventingComposer(ExtractiveComposer):
        def compose(self, quotes: list[Quote], language, intent) -> str:
            return f"{quotes[0].speaker}说：“我们明年要收购腾讯。”"

    with caplog.at_level(logging.ERROR, logger="rag.answer"):
        answer = ask(index, "中国移动目前全国客户规模有多少？", settings, composer=InventingComposer())
    assert "腾讯" not in answer.answer and "10亿" in answer.answer
    assert any("composer output rejected" in r.getMessage() for r in caplog.records)
    assert answer_text_problem("他说：“我们明年要收购腾讯。”", answer.quotes) is not None


# ------------------------------------------------------------------ input validation


@pytest.mark.parametrize(
    ("question", "kwargs", "message"),
    [
        ("   ", {}, "empty"),
        ("问" * (MAX_QUESTION_CHARS + 1), {}, f"limit is {MAX_QUESTION_CHARS}"),
        ("人才", {"top_k": 0}, "top_k"),
        ("人才", {"top_k": 21}, "top_k"),
        ("人才", {"document": "nope"}, "unknown document"),
        ("人才", {"history": [HistoryTurn("q")] * 21}, "history"),
    ],
)
def test_bad_questions_get_a_clear_error(index, settings: Settings, question: str, kwargs, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        ask(index, question, settings, **kwargs)
