""""Who is X" answers with the speaker's title and organisation from the page's own speaker line."""

from rag.answer import ask
from rag.index.load import Index
from rag.settings import Settings


def test_who_is_a_speaker_quotes_the_speaker_line(index: Index, settings: Settings) -> None:
    zh = ask(index, "王杰是谁？", settings)
    assert zh.found and zh.intent == "profile" and zh.profile is not None
    assert zh.profile.organization == "比亚迪股份有限公司" and zh.profile.title == "副总裁"
    source = index.sources[zh.profile.document].splitlines()
    assert source[zh.profile.line - 1].strip() == zh.profile.source_line  # verbatim, the page's own line
    assert zh.profile.source_line in zh.answer and not zh.quotes
    en = ask(index, "Who is Wang Jie?", settings)
    assert en.profile == zh.profile and en.answer.startswith("Wang Jie (王杰): Vice President, BYD")


def test_a_question_about_someone_else_is_no_profile(index: Index, settings: Settings) -> None:
    assert ask(index, "和王杰合作的是谁？", settings).intent != "profile"
    assert ask(index, "Who is Elon Musk?", settings).profile is None

