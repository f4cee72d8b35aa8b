"""benchmarks/crosslingual.py: replaying the English abstention rules over recorded answers."""
from __future__ import annotations

from benchmarks.crosslingual import decide, summary

ROWS = [  # two answerable (one right with a sure reader, one wrong with an unsure one), two not
    {"answerable": True, "abstained": False, "right": True, "support": 0.9, "names": True, "margin": 5.0},
    {"answerable": True, "abstained": False, "right": False, "support": 0.6, "names": True, "margin": -11.0},
    {"answerable": False, "abstained": False, "right": False, "support": 0.3, "names": True, "margin": 2.0},
    {"answerable": False, "abstained": True, "right": False, "support": 0.9, "names": False, "margin": None},
]


def test_each_rule_abstains_on_its_own_evidence():
    assert [decide(r) for r in ROWS] == [False, False, False, True]  # no margin rule: only what abstained
    assert [decide(r, -8.0) for r in ROWS] == [False, True, False, True]
    assert [decide(r, -8.0, -12.0, 0.5) for r in ROWS] == [False, False, False, True]  # the article holds 0.6
    assert [decide(r, -8.0, -12.0, 0.7) for r in ROWS] == [False, True, False, True]
    assert decide({**ROWS[0], "margin": None}, -8.0)  # nothing read: no evidence to answer on
    unknown = {**ROWS[1], "margin": -5.0, "unknown_name": True}  # a name the corpus has no word for: surer reader
    assert not decide(unknown, -8.0) and decide(unknown, -8.0, unknown_margin=0.0)
    assert not decide({**unknown, "unknown_name": False}, -8.0, unknown_margin=0.0)


def test_the_summary_counts_answers_right_only_where_not_abstained():
    both = summary(ROWS, -8.0)
    assert both["answered_right"] == 0.5 and both["wrongly_abstained"] == 0.5
    assert both["abstained_unanswerable"] == 0.5 and both["margin"] == -8.0
    assert summary(ROWS)["abstained_unanswerable"] == 0.5
