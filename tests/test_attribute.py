"""Asked attributes on the real index: absent facts say what is missing, event questions quote the editor's
note, and follow-ups never show a quote again."""

from rag.answer import ask
from rag.index.load import Index
from rag.records import HistoryTurn
from rag.settings import Settings


def test_a_count_of_another_noun_is_no_answer(index: Index, settings: Settings) -> None:
    zh = ask(index, "华为云有多少名员工？", settings)
    assert not zh.found and zh.answer == "这篇报道没有提到华为云的员工人数。"
    assert zh.closest  # the nearest passages, marked as not an answer
    en = ask(index, "How many employees does Huawei Cloud have?", settings)
    assert not en.found and en.answer == "The page does not give Huawei Cloud's number of employees."


def test_a_synonym_of_the_counted_noun_answers(index: Index, settings: Settings) -> None:
    answer = ask(index, "中国移动有多少用户？", settings)
    assert answer.found and "客户规模已超10亿" in answer.quotes[0].text


def test_event_questions_use_the_editors_note_and_say_what_it_lacks(index: Index, settings: Settings) -> None:
    when = ask(index, "When was the symposium held?", settings)
    assert when.found and when.quotes[0].kind == "editor_note" and "9月30日" in when.quotes[0].text
    year = ask(index, "座谈会是哪一年召开的？", settings)
    assert not year.found and "年份" in year.answer and "9月30日" in year.answer
    host = ask(index, "谁主持了座谈会？", settings)
    assert not host.found and "主持人" in host.answer


def test_a_follow_up_never_repeats_a_shown_quote(index: Index, settings: Settings) -> None:
    first = ask(index, "张平安如何看待马栏山？", settings, top_k=2)
    shown = tuple(q.id for q in first.quotes)
    turn = HistoryTurn(first.question, first.answer, first.speakers, shown)
    more = ask(index, "他还说了什么？", settings, history=[turn])
    assert more.found and more.quotes
    assert not {q.id for q in more.quotes} & set(shown)
    assert all(q.speaker == "张平安" for q in more.quotes[:1])
    shown += tuple(q.id for q in more.quotes)
    again = ask(index, "他还说了什么？", settings, history=[turn, HistoryTurn(more.question, more.answer, more.speakers, shown)])
    assert not {q.id for q in again.quotes} & set(shown)


def test_who_mentioned_a_topic_several_speakers_share_is_a_multi_speaker_answer(
    index: Index, settings: Settings
) -> None:
    answer = ask(index, "谁提到了人才？", settings)
    assert answer.intent == "multi" and len(answer.speakers) >= 2
    assert all("人才" in q.text or "人才" in q.paragraph for q in answer.quotes)
    # A claim only one speaker made stays a "who said it" answer.
    assert ask(index, "谁说文化是目的，科技是手段？", settings).intent == "who"
