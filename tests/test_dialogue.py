"""Follow-up questions rewritten against the previous one (rag/dialogue.py), without an index or a model."""
from rag.dialogue import is_follow_up, needs_context, resolve_follow_up


def test_a_new_place_takes_the_old_ones_place_and_level():
    assert resolve_follow_up("那平度呢？", ["胶州市探索成立了几个片区联合党委？"]) == "平度市探索成立了几个片区联合党委？"
    # One list of administrative suffixes (rag.lexical.PLACE_SUFFIX) serves every rule: a province keeps its 省.
    assert resolve_follow_up("那河南呢？", ["山东省的常住人口是多少？"]) == "河南省的常住人口是多少？"


def test_a_pronoun_takes_the_previous_subject():
    assert resolve_follow_up("它的面积呢？", ["辛安街道有什么荣誉？"]) == "辛安街道的面积是多少？"


def test_a_self_contained_question_is_left_alone():
    question = "平度市累计建成了多少万亩高标准农田？"
    assert not is_follow_up(question)
    assert resolve_follow_up(question, ["胶州市探索成立了几个片区联合党委？"]) == question
    assert resolve_follow_up("那平度呢？", []) == "那平度呢？"


def test_a_follow_up_with_nothing_before_it_needs_context():
    for question in ("那平度呢？", "平度呢", "还有胶州市呢？", "它的面积呢？", "那么即墨怎么样？", "该街道有多少人？"):
        assert needs_context(question), question
    for question in ("平度市累计建成了多少万亩高标准农田？", "平度有多少人呢？", "青岛的天气怎么样？", "胶州市如何？", ""):
        assert not needs_context(question), question
