"""Fast tests of sentence scoring and the answer window on hand-made Chinese sentences (no model, no index)."""
from __future__ import annotations

import numpy as np

from rag.sentences import FEATURES, WEIGHTS, WEIGHTS_LEXICAL, answer_window, score_sentences, sentence_features
from tests.fake_answers import FISH, make_passage


def test_score_sentences_prefers_the_sentence_with_the_asked_words():
    hits = score_sentences("黄鳍紫鱼体长多少？", [FISH, make_passage("今天天气很好。", source="b.txt")])
    best = hits[0]
    assert best.chunk.text[best.start:best.end] == "体长可达50公分。"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[-1].chunk.source == "b.txt"


def test_answer_window_is_contiguous():
    hits = score_sentences("黄鳍紫鱼体长多少？", [FISH])
    start, end = answer_window(hits)
    assert start <= hits[0].start and hits[0].end <= end
    assert FISH.text[start:end].count("体长可达50公分") == 1


def test_features_one_row_per_answer_sentence_in_feature_order():
    hits, rows = sentence_features("黄鳍紫鱼体长多少？", [FISH])
    assert rows.shape == (len(hits), len(FEATURES)) and set(WEIGHTS) == set(WEIGHTS_LEXICAL) == set(FEATURES)
    assert all(h.score == 0 for h in hits) and rows[:, FEATURES.index("similarity")].tolist() == [0] * len(hits)


def test_answer_sentence_runs_over_semicolons():
    flower = make_passage("假苹婆是梧桐科植物。花为圆锥花序腋生，雌雄同株；花淡红色，无花冠。", title="假苹婆")
    best = score_sentences("假苹婆的花是什么样的？", [flower])[0]
    assert flower.text[best.start:best.end] == "花为圆锥花序腋生，雌雄同株；花淡红色，无花冠。"


def test_similarity_picks_the_sentence_when_no_words_are_shared():
    """An English question shares no words with the passage: the sentence vectors decide."""
    sentences = ["黄鳍紫鱼分布于印度洋。", "体长可达50公分。", "栖息在珊瑚礁区。"]
    passage = make_passage("".join(sentences), title="黄鳍紫鱼")
    cosines = {0: [0.80, 0.86, 0.81]}
    hits = score_sentences("How long does it grow?", [passage], lambda c: np.array(cosines[0]))
    assert passage.text[hits[0].start:hits[0].end] == "体长可达50公分。"
    # A similarity function that has nothing for a chunk (None or the wrong length) marks it unknown, and
    # the question is then scored with the weights fitted without similarity.
    other = make_passage("今天天气很好。黄鳍紫鱼体长可达50公分。", source="b.txt")
    for nothing in (None, np.zeros(1)):
        _, rows = sentence_features("How long?", [passage], lambda c: nothing)
        assert np.isnan(rows[:, FEATURES.index("similarity")]).all()
        mixed = score_sentences("黄鳍紫鱼体长多少？", [passage, other],
                                lambda c: np.array(cosines[0]) if c is passage else nothing)
        assert [h.score for h in mixed] == [h.score for h in score_sentences("黄鳍紫鱼体长多少？", [passage, other])]


def test_question_type_cues():
    """"Why" is answered by a sentence with 因为/由于…, "how tall" by a number with a length unit."""
    passage = make_passage("鸡毛松是纽西兰特有种。树高可达55米，木材可制矛。毛利人称它为卡希卡提亚。", title="纽西兰鸡毛松")
    hits, rows = sentence_features("纽西兰鸡毛松有多高？", [passage])
    unit = rows[:, FEATURES.index("unit")]
    assert [passage.text[h.start:h.end] for h, u in zip(hits, unit) if u] == ["树高可达55米，木材可制矛。"]
    best = score_sentences("纽西兰鸡毛松有多高？", [passage])[0]
    assert passage.text[best.start:best.end] == "树高可达55米，木材可制矛。"
    hits, rows = sentence_features("为什么称它为笨蛋水果？", [make_passage("维生素C含量高。因此它被称为笨蛋水果。")])
    assert rows[:, FEATURES.index("cue")].tolist() == [0.0, 1.0]


def test_window_joins_the_reason_before_a_sentence_that_links_back():
    passage = make_passage("猴面包树原产非洲。果实的钙含量比菠菜高一半。因此它被称为笨蛋水果。", title="猴面包树")
    hits = score_sentences("为什么称猴面包树为笨蛋水果？", [passage])
    assert passage.text[hits[0].start:hits[0].end] == "因此它被称为笨蛋水果。"
    start, end = answer_window(hits, "为什么称猴面包树为笨蛋水果？")
    assert passage.text[start:end] == "果实的钙含量比菠菜高一半。因此它被称为笨蛋水果。"


def test_window_is_wider_for_descriptive_questions():
    flower = make_passage("假苹婆是梧桐科植物。花为圆锥花序腋生，雌雄同株。花淡红色，无花冠，花萼5裂。果期秋季。", title="假苹婆")
    hits = score_sentences("假苹婆的花是什么颜色？", [flower])
    assert flower.text[hits[0].start:hits[0].end] == "花淡红色，无花冠，花萼5裂。"
    assert answer_window(hits, "假苹婆的花是什么颜色？", margin=0.0) == (hits[0].start, hits[0].end)
    start, end = answer_window(hits, "假苹婆的花有什么特点？", margin=0.0)
    assert flower.text[start:end] == "花为圆锥花序腋生，雌雄同株。花淡红色，无花冠，花萼5裂。"


def test_a_sentence_that_only_starts_like_a_link_back_stands_alone():
    passage = make_passage("工程于去年开工。这样的设计使大桥更稳固。", title="大桥")
    hits = score_sentences("大桥的设计有什么好处？", [passage])
    assert passage.text[hits[0].start:hits[0].end] == "这样的设计使大桥更稳固。"
    start, _ = answer_window(hits, "大桥的设计有什么好处？", margin=0.0)
    assert start == hits[0].start


def test_longest_common_substring_looks_only_at_shared_characters():
    from rag.sentences import _longest_common

    assert _longest_common("鲍家屯村常住人口有多少", "胶莱街道鲍家屯村常住人口912人。") == len("鲍家屯村常住人口")
    assert _longest_common("Whatisthepopulationin2020", "2020年人均收入2.1万元") == 4  # only the digits are shared
    assert _longest_common("abc", "") == 0 and _longest_common("", "abc") == 0
