"""English question words in the corpus's Chinese words (CC-CEDICT), on the real index of the real corpus."""

from rag.answer import ask
from rag.index.load import Index
from rag.settings import Settings
from rag.translation import content_runs, english_terms, translate


def test_content_runs_drop_frame_words() -> None:
    assert content_runs("Which speakers talked about virtual reality?") == [["virtual", "reality"]]
    assert content_runs("What did they say about cars, and culture?") == [["cars"], ["culture"]]


def test_phrases_before_words_and_only_corpus_words(index: Index) -> None:
    found = {t.phrase: t.words for t in translate(index, "Which speakers talked about virtual reality?")}
    assert found == {"virtual reality": ("虚拟现实",)}
    # 员工 (employees) is in the dictionary but not in the corpus: nothing is made up for it.
    assert english_terms(index, "How many employees are there?") == []
    assert "博物馆" in english_terms(index, "Which companies mentioned digital museums?")
    assert english_terms(index, "华为云的员工有多少？") == []


def test_english_topic_question_quotes_the_speakers_of_that_topic(index: Index, settings: Settings) -> None:
    answer = ask(index, "Which speakers talked about virtual reality?", settings)
    assert answer.found and answer.intent == "multi"
    assert "虚拟现实" in answer.quotes[0].paragraph  # the one paragraph that says it, not a neighbour topic
