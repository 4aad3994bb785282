"""Hostile Markdown cannot make the inline-markup regex backtrack exponentially (issue #12,
defect 11): `'<A ' + 'x={{a}} ' * n` used to take seconds at n=20 and a minute at n=24.

The inputs run in a child process with a deadline: a regex stuck in the C engine does not
answer signals, so a timeout inside this process could not stop it."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO

ADVERSARIAL = [
    "'<A ' + 'x={{a}} ' * 28",
    "'<A ' + '{{a}} ' * 28",
    "'<A ' + 'x={a} ' * 2000",
    "'<A ' + 'x={{a}}' * 2000",
    "'<div ' + 'a=\"b\" c={d} {e} ' * 2000",
    "'{: ' + 'a=b ' * 5000",
    "'{:' + ' .c #d k=v' * 3000",
    "'<A ' + 'x=' * 5000",
    "'![' + '[a]' * 3000",
    "'[' * 5000 + ']('",
    "'<a ' + 'b=\"c\" ' * 3000 + '<'",
]

SCRIPT = """
import sys, time
from rag.inline import clean_inline
from rag.markdown import parse_markdown
for expr in sys.argv[1:]:
    text = eval(expr)
    started = time.perf_counter()
    clean_inline(text)
    clean_inline(text, mdx=True)
    parse_markdown("# Title\\n\\n" + text + "\\n")
    parse_markdown("# Title\\n\\n" + text + "\\n", mdx=True)
    print(f"{time.perf_counter() - started:.3f} {expr}", flush=True)
"""


def test_adversarial_inline_markup_is_fast() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *ADVERSARIAL],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    timings = [line.split(" ", 1) for line in result.stdout.splitlines()]
    assert len(timings) == len(ADVERSARIAL), result.stdout
    slow = [(seconds, expr) for seconds, expr in timings if float(seconds) > 2.0]
    assert not slow, slow


def test_attributes_still_parse() -> None:
    from rag.inline import clean_inline

    assert clean_inline("a <span x={{a: 1}} y='z' w=v/> b").split() == ["a", "b"]
    assert clean_inline("Heading {#anchor .class key=value}").strip() == "Heading"
    assert clean_inline("`openai:<model>`") == "`openai:<model>`"
