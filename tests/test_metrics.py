"""Tests for rag.metrics, with expectations computed by hand."""
import numpy as np
import pytest

from rag.metrics import (abstention_scores, cmrc_em, cmrc_f1, find_lcs, mixed_segmentation,
                         mrr, normalize_answer, percentile, recall_at_k)


def test_f1_identical_answer_is_one():
    assert cmrc_f1("155.2万亩", ["155.2万亩"]) == 1.0


def test_f1_partial_overlap_hand_computed():
    # pred tokens [约, 155.2, 万, 亩] (4), gold [155.2, 万, 亩] (3), LCS 3:
    # P = 3/4, R = 1, F1 = 2 * 3/4 / (7/4) = 6/7
    assert cmrc_f1("约155.2万亩", ["155.2万亩"]) == pytest.approx(6 / 7)


def test_f1_uses_contiguous_substring_not_subsequence():
    # [北, 京, 上, 海] vs [北, 海]: longest common substring is 1 -> P=1/4, R=1/2, F1=1/3
    assert cmrc_f1("北京上海", ["北海"]) == pytest.approx(1 / 3)


def test_f1_max_over_answers_and_no_overlap():
    # second answer: gold [上, 海, 市], pred [上, 海]: P=1, R=2/3, F1=0.8
    assert cmrc_f1("上海", ["北京", "上海市"]) == pytest.approx(0.8)
    assert cmrc_f1("上海", ["北京"]) == 0.0
    assert cmrc_f1("上海", []) == 0.0


def test_f1_english_words_and_case():
    # [the, nba, finals] vs [nba, finals]: P=2/3, R=1, F1=0.8
    assert cmrc_f1("the NBA finals", ["NBA finals"]) == pytest.approx(0.8)


def test_mixed_segmentation_ascii_runs_and_cjk():
    assert mixed_segmentation("2V2、4V4", rm_punc=False) == ["2v2", "、", "4v4"]
    # Official quirk, kept: with rm_punc the dropped mark does not end the ASCII run,
    # so the two runs join into one token and "2V2" alone scores 0 against it.
    assert mixed_segmentation("2V2、4V4") == ["2v24v4"]
    assert cmrc_f1("2V2", ["2V2、4V4"]) == 0.0
    assert mixed_segmentation("2V2 4V4") == ["2v2", "4v4"]
    assert mixed_segmentation("约155.2万亩") == ["约", "155.2", "万", "亩"]
    # [2v2, 比, 赛] vs [4v4, 比, 赛]: LCS 2, P=R=2/3
    assert cmrc_f1("2V2比赛", ["4v4比赛"]) == pytest.approx(2 / 3)


def test_find_lcs():
    assert find_lcs(list("abcde"), list("xbcdy")) == (list("bcd"), 3)
    assert find_lcs([], list("ab")) == ([], 0)


def test_em_ignores_punctuation_and_case():
    assert cmrc_em("“踢爆”", ["踢爆"]) == 1.0
    assert cmrc_em("NBA。", ["nba"]) == 1.0
    assert cmrc_em("踢爆", ["踢", "爆"]) == 0.0
    assert cmrc_em("踢爆", []) == 0.0


def test_normalize_answer_keeps_ellipsis_like_official_script():
    assert normalize_answer(" 《红楼梦》：A-B ") == "红楼梦ab"
    assert normalize_answer("好……") == "好……"


def test_answers_must_be_a_list():
    with pytest.raises(ValueError, match="list of strings"):
        cmrc_f1("踢爆", "踢爆")


def test_recall_at_k_with_missing():
    ranks = [1, 3, None, 2]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 2) == 0.5
    assert recall_at_k(ranks, 10) == 0.75
    assert recall_at_k([], 5) == 0.0


def test_recall_at_k_bad_input():
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        recall_at_k([1, 2], 0)
    with pytest.raises(ValueError, match="1-based"):
        recall_at_k([0, 2], 3)


def test_mrr():
    assert mrr([1, 2, None, 4]) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert mrr([None, None]) == 0.0
    assert mrr([]) == 0.0


@pytest.mark.parametrize("q", [0, 10, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(q):
    values = [0.31, 5.0, 1.2, 2.5, 9.75, 0.05, 3.3]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_edges():
    assert percentile([], 50) == 0.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match=r"q must be in \[0, 100\]"):
        percentile([1.0], 101)


def test_abstention_scores_mixed():
    # tp: items 0 and 4; fp: item 1; fn: item 2 -> P = R = F1 = 2/3
    s = abstention_scores([True, True, False, False, True], [False, True, False, True, False])
    assert s == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_abstention_scores_zero_division_conventions():
    assert abstention_scores([False, False], [True, True]) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert abstention_scores([False, False], [True, False]) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert abstention_scores([True], [True]) == {"precision": 0.0, "recall": 1.0, "f1": 0.0}


def test_abstention_scores_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        abstention_scores([True], [True, False])
