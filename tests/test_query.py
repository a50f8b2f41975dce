"""Views of a request: the ask is found around pasted traces, logs and diffs; bullets stay prose."""

from skillroute.core._query import explicit_invocation, prose, views

TRACE = """getting this when I hit /orders:

Traceback (most recent call last):
  File "app/services/orders.py", line 88, in create_order
    total = compute(discount)
KeyError: 'discount'
2024-05-01 12:00:01 ERROR worker crashed

can you fix it? the discount column was added yesterday."""


def test_traceback_and_log_lines_are_dropped():
    p = prose(TRACE)
    assert 'File "' not in p and "worker crashed" not in p and "total = compute" not in p
    v = views(TRACE)
    assert v[1] == "getting this when I hit /orders:"
    assert v[2] == "the discount column was added yesterday."


def test_bullets_are_prose_but_diff_lines_are_not():
    assert "add a logout button" in prose("please:\n- add a logout button\n- drop the banner")
    d = prose("review this\ndiff --git a/x.py b/x.py\n@@ -1 +1 @@\n- old()\n+ new()\nlooks ok?")
    assert d == "review this looks ok?"


def test_fenced_code_is_dropped_and_single_sentence_has_one_view():
    assert prose("what does this do?\n```python\nx = [i for i in y]\n```") == "what does this do?"
    assert views("why does useEffect run twice?") == ["why does useEffect run twice?"]


def test_all_noise_falls_back_to_the_text():
    assert prose("    x = 1\n    y = 2") == "x = 1 y = 2"


def test_explicit_invocation():
    assert explicit_invocation("/review src/app.py") == ("review", "src/app.py")
    assert explicit_invocation("/give-plan") == ("give-plan", "")
    assert explicit_invocation("see /review") is None
    assert explicit_invocation("/api/users returns 500") is None
