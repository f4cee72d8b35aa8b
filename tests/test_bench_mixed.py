"""benchmarks/mixed_questions.py: a Chinese question with its first name in pinyin."""
from benchmarks.mixed_questions import romanised


def test_the_first_name_is_written_in_pinyin_and_spaced_off():
    assert romanised("平度市培育了多少家农民专业合作社？") == "Pingdu 市培育了多少家农民专业合作社？"


def test_a_question_without_a_name_or_without_chinese_is_left_out():
    assert romanised("培育了多少家农民专业合作社？") is None
    assert romanised("How many cooperatives does Pingdu have?") is None
