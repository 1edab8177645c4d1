"""Words the speech-finding parsers look for, in simplified characters (patterns run on a simplified shadow)."""

from __future__ import annotations

import re

from rag.textutil import IDEOGRAPHS

# Common single-character surnames (the hundred or so that cover nearly every name in the news) and the
# compound ones. Rare surnames that are also everyday words (百, 老, 和) are left out on purpose: a name is
# only ever registered when it follows a title or sits in a byline, and the surname check keeps words such
# as `院长期以来` from becoming a person.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
    "季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
    "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴"
    "盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况"
    "那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
) - frozenset("和时明平国来都海云强信展由干公富玉元那相乐门司闻")
COMPOUND_SURNAMES = frozenset(
    ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文", "司徒", "夏侯",
     "轩辕", "端木", "西门", "独孤", "南宫", "万俟", "闻人", "申屠", "澹台", "呼延")
)  # fmt: skip

# Titles and roles that stand right before a name in an introduction (`博物馆馆长陈静`). Longest first when
# compiled, so `副局长` wins over `局长`.
TITLE_WORDS = (
    "董事长", "理事长", "秘书长", "副局长", "局长", "副馆长", "馆长", "副校长", "校长", "副院长", "院长", "副市长",
    "市长", "副部长", "部长", "副厅长", "厅长", "处长", "科长", "所长", "站长", "团长", "行长", "台长", "社长",
    "副会长", "会长", "园长", "队长", "组长", "村长", "镇长", "县长", "区长", "省长", "厂长", "店长", "总经理",
    "经理", "总裁", "首席执行官", "首席技术官", "首席科学家", "联合创始人", "创始人", "创办人", "主理人", "合伙人", "副主任", "主任",
    "副书记", "书记", "村支书", "副主席", "主席", "总监", "总编辑", "副总编辑", "主编", "总工程师", "工程师",
    "副教授", "教授", "副研究员", "研究员", "讲师", "院士", "新闻发言人", "发言人", "负责人", "传承人", "策展人",
    "设计师", "建筑师", "修复师", "作家", "诗人", "画家", "书法家", "导演", "编剧", "演员", "歌手", "委员", "代表",
    "董事", "律师", "医生", "老师", "讲解员", "志愿者", "市民", "游客", "村民", "居民", "大学生", "学生", "观众",
)  # fmt: skip
# Words a later reference puts after a surname (`王局长`, `刘总`); `总`/`董` are the usual short forms.
REFERENCE_TITLES = {
    "总": ("总经理", "总裁", "总监", "总编", "总工程师", "董事长", "首席执行官", "创始人"),
    "董": ("董事长", "董事"),
}
# Honorifics that make a reference to someone the article never names (`游客张女士`, `老王`).
HONORIFICS = ("女士", "先生", "阿姨", "大爷", "大妈", "师傅", "奶奶", "爷爷", "同学", "小朋友", "老师")
# Voices the parser cannot identify, as the subject of a clause (`市民周阿姨…`, `一位带孩子来的家长…`): they
# block a later `他/她` from reaching back past them to a named speaker. Mid-clause objects (`2000多名观众`)
# do not count, or every statistic would block a pronoun.
ANONYMOUS_VOICES = re.compile(
    r"(?:^|(?<=[，。！？；：”」\s]))"
    r"(?:有|一位|一名|有位|这位|那位|两位|几位|多位|不少|许多|很多)?"
    r"(?:[^，。！？；：“”「」]{0,10}?的)?"
    r"(?:市民|游客|村民|居民|观众|网友|家长|学生|大学生|志愿者|工作人员|讲解员|参观者|摊主|店主|老人|孩子|小朋友|"
    r"业内人士|相关负责人|负责人|主办方|组委会|专家|学者|受访者)"
)

# Attribution verbs, longest first when compiled. A verb counts only when a mark, a comma, a colon or the
# sentence end follows it, so `介绍了…` (an action) is not speech while `介绍，…` is.
SPEECH_VERBS = (
    "告诉本报记者", "告诉记者", "对记者说", "回应称", "介绍说", "补充说", "补充道", "解释说", "回忆说", "举例说",
    "分析说", "感慨道", "说道", "答道", "笑言", "笑称", "笑说", "表示", "指出", "认为", "介绍", "强调", "谈到",
    "谈及", "坦言", "坦承", "透露", "提到", "说明", "补充", "解释", "直言", "感慨", "回忆", "回应", "建议", "呼吁",
    "提醒", "表态", "说", "称", "答",
)  # fmt: skip
# A character before `说`/`称` that makes it part of another word (小说, 据说, 听说, 号称, 被称…).
NOT_SPEECH_BEFORE = {"说": "小据听虽传学演游解", "称": "号被名堪俗简统昵人声"}

PUNCTUATION = set("，。！？；：、,.!?;:“”‘’「」『』（）()《》【】[]…—·/｜| \u3000\"'")
SENTENCE_END = "。！？!?"
OPEN_QUOTES = {"“": "”", "「": "」"}
NESTED_QUOTES = {"‘": "’", "『": "』"}
CJK = re.compile(rf"[{IDEOGRAPHS}]")

# Characters that start the word after a name (`陈静介绍`, `孙浩则表示`, `刘志强正向…`): where a name ends.
AFTER_NAME = set(
    "在正也还则就又曾更均都等和与及一已将是把被从为对向跟同带率陪出主接谈认介表指强坦透告称说提补回建呼答笑感分直解的致作发做宣通以要会能希并代首先现亲今近日当昨前上下之"
)
# Characters before a name inside a longer run (`出席会议的陈静`): where a name starts.
BEFORE_NAME = set("的由请与及和、是为据对向被将从在，。：；“”「」（）《》【】 \u3000")
# A name's given part never contains these (function words and honorific pieces).
NOT_IN_GIVEN = set("的了在和是说们女先阿师等与及对向被将从为也还则就又都这那个人市省县区局馆")


def surname_of(name: str) -> str:
    """The surname of a Chinese name (compound surnames included); "" when it has none we know."""
    if name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[:1] if name[:1] in SURNAMES else ""


def is_name_shaped(name: str) -> bool:
    """Two to four ideographs, a known surname, and a given part free of function words."""
    if "·" in name:
        parts = name.split("·")
        return 2 <= len(name) <= 12 and all(len(p) >= 1 and CJK.fullmatch(p[0] or "") for p in parts)
    if not (2 <= len(name) <= 4) or not all(CJK.fullmatch(c) for c in name):
        return False
    surname = surname_of(name)
    given = name[len(surname) :]
    if not surname or not 1 <= len(given) <= 2:
        return False
    return not any(c in NOT_IN_GIVEN for c in given) and not any(name.endswith(h) for h in HONORIFICS)


def alternation(words: tuple[str, ...] | list[str]) -> str:
    """A regex alternation of words, longest first."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


TITLE_RE = re.compile(alternation(TITLE_WORDS))
VERB_RE = re.compile(alternation(SPEECH_VERBS))
