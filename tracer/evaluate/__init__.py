"""Score trace and batch results against a simulated world's truth (``tracer simulate``):
the truth and result folders read (``load``), the scores (``score``), their printed tables
(``text``), and case networks against the truth's gangs (``links``). The measures are
described in ``tracer.evaluate.score``."""

from tracer.evaluate.links import links_score_text, score_links
from tracer.evaluate.load import ResultSet, Truth, load_result, load_truth
from tracer.evaluate.score import DEFAULT_THRESHOLD, CaseScore, Score, evaluate
from tracer.evaluate.text import score_text

__all__ = [
    "Truth",
    "ResultSet",
    "CaseScore",
    "Score",
    "load_truth",
    "load_result",
    "evaluate",
    "score_text",
    "DEFAULT_THRESHOLD",
    "score_links",
    "links_score_text",
]
