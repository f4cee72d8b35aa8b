"""The question analysed once: question word, kinds of answer, places, language."""
from __future__ import annotations

from rag.question import analyse


def test_place_names_drop_administrative_suffix():
    from rag.lexical import place_names

    assert "平度" in place_names("平度市累计建成了多少万亩高标准农田")


def test_places_come_from_the_dictionary_without_pos_tagging():
    """Unknown words are not guessed into places (jieba.posseg's HMM made 锦地罗不 and 洛拉 places), and the
    common path never imports jieba.posseg (a second of start-up)."""
    import subprocess
    import sys

    from rag.lexical import place_names

    assert place_names("洛拉回到意大利时就开始在哪里工作？") == ["意大利"]
    assert place_names("哪个品种的锦地罗不需要冬眠？") == []
    code = ("import sys; from rag.question import analyse; q = analyse('平度市有多少家合作社？'); "
            "assert q.places == ('平度',), q.places; assert 'jieba.posseg' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_name_cc_cedict_knows_counts_as_a_place_where_jieba_does_not_tag_it_so():
    """jieba's dictionary tags 柏林 a person's name; CC-CEDICT lists it only as a proper noun (Bo2 lin2)."""
    from rag.cedict import chinese_names
    from rag.lexical import place_names

    assert {"柏林", "奥巴马"} <= chinese_names() and "文明" not in chinese_names()  # 文明 is also a common word
    assert place_names("柏林的人口是多少？") == ["柏林"]
    assert place_names("文明的定义是什么？") == []  # jieba tags 文明 nr too


def test_questions_that_ask_for_a_description_get_a_sentence():
    assert analyse("硬枝黄蝉的名称是怎么来的？").descriptive and analyse("为什么要建口袋公园？").descriptive
    assert analyse("Why was the park built?").descriptive and analyse("How does it work?").descriptive
    assert not analyse("鲍家屯村常住人口有多少？").descriptive and not analyse("How many residents are there?").descriptive
    assert not analyse("Which city signed the insurance?").descriptive


def test_analyse_finds_the_question_word_kind_and_places():
    question = analyse("平度市累计建成了多少万亩高标准农田？")
    assert question.chinese and question.wh == "多少" and question.asks_number and not question.descriptive
    assert question.places == ("平度",) and "高标准" in question.terms
    assert question.before == "平度市累计建成了" and question.after == "万亩高标准农田"
    assert "height" in analyse("纽西兰鸡毛松有多高？").kinds and "reason" in analyse("为什么称它为笨蛋水果？").kinds


def test_traditional_and_full_width_questions_are_analysed_as_simplified():
    question = analyse("平度市累計建成了多少萬畝高標準農田？")
    assert question.normalised == "平度市累计建成了多少万亩高标准农田?" and question.wh == "多少"
    assert question.places == ("平度",) and analyse("為什麼要建口袋公園？").descriptive


def test_english_questions_are_not_judged_by_chinese_rules():
    question = analyse("Which city signed the insurance?")
    assert question.language == "other" and not question.chinese and question.places == ()
    assert question.tokens == ("city", "signed", "insurance")


def test_the_reader_gets_the_question_in_simplified_characters():
    question = analyse("膠州市探索成立了幾個片區聯合黨委？ ABC")
    assert question.simplified == "胶州市探索成立了几个片区联合党委？ ABC"  # width and case kept
