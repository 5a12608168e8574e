"""What a check returns: a verdict, the reason in words, and the evidence.

A :class:`CheckResult` is made by :func:`dosim.edu.check`. It never just says "failed": its
``explanation`` names what went wrong in the student's run -- which request lost an update,
which alarm ran twice, which timer fired late -- with the times and values taken from the
trace, and ``evidence`` holds the rows that show it. Jupyter renders a result as a short
report (verdict, explanation, the hidden scenarios, the evidence table and a figure), so a
check cell only has to end with the result.

``passed`` is the verdict; ``scenarios`` has one row per hidden scenario (``scenario``,
``passed``, ``summary``); ``sim`` is the :class:`~dosim.Simulation` of the first failing
scenario (or of the last one run), to explore with ``result.sim.trace``.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..simulation import Simulation

__all__ = ['CheckResult', 'ExerciseFailedError', 'Verdict']

MAX_ROWS = 20   # evidence rows shown in a rendered report; the frame keeps them all


@dataclass
class Verdict:
    """The outcome of one hidden scenario: passed or not, a one-line summary, and -- for a
    failure -- the full explanation, its evidence rows and an optional figure."""

    scenario: str
    passed: bool
    summary: str
    explanation: str = ''
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: Figure | None = None
    sim: Simulation | None = None


class ExerciseFailedError(AssertionError):
    """Raised by ``check(..., raise_on_fail=True)``; ``.result`` is the :class:`CheckResult`."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(f'{result.title}: not yet.\n{result.explanation}')
        self.result = result


@dataclass
class CheckResult:
    """The verdict of :func:`dosim.edu.check` on one exercise (see the module docstring)."""

    exercise: str
    title: str
    passed: bool
    explanation: str
    evidence: pd.DataFrame
    scenarios: pd.DataFrame
    figure: Figure | None = None
    sim: Simulation | None = None

    @classmethod
    def from_verdicts(cls, exercise: str, title: str, verdicts: list[Verdict],
                      success: str, figure: Figure | None = None) -> CheckResult:
        """The result of a run of scenarios: the first failure explains; *success* (with
        *figure*, if given) is the explanation when every scenario passed."""
        table = pd.DataFrame([(v.scenario, v.passed, v.summary) for v in verdicts],
                             columns=['scenario', 'passed', 'summary'])
        failed = [v for v in verdicts if not v.passed]
        if not failed:
            last = verdicts[-1] if verdicts else None
            return cls(exercise, title, True, success, pd.DataFrame(), table, figure,
                       last.sim if last else None)
        first = failed[0]
        text = f'Scenario **{first.scenario}**: {first.explanation}'
        others = [f'- **{v.scenario}**: {v.summary}' for v in failed[1:]]
        if others:
            text += '\n\nAlso failing:\n' + '\n'.join(others)
        return cls(exercise, title, False, text, first.evidence, table, first.figure, first.sim)

    # -- using it --------------------------------------------------------------------------
    def raise_if_failed(self) -> CheckResult:
        """Raise :class:`ExerciseFailedError` unless the check passed; return self if it did."""
        if not self.passed:
            raise ExerciseFailedError(self)
        return self

    @property
    def headline(self) -> str:
        mark = '✅ passed' if self.passed else '❌ not yet'
        return f'{self.title}: {mark}'

    def __repr__(self) -> str:
        return f'<CheckResult {self.exercise!r} passed={self.passed}>\n{self._text()}'

    def _text(self) -> str:
        lines = [self.headline, '', _plain(self.explanation), '']
        for row in self.scenarios.itertuples():
            lines.append(f'  [{"pass" if row.passed else "FAIL"}] {row.scenario}: {row.summary}')
        return '\n'.join(lines)

    # -- Jupyter ---------------------------------------------------------------------------
    def _repr_markdown_(self) -> str:
        parts = [f'#### {self.headline}', self.explanation, '**Hidden scenarios**',
                 _markdown_table(self.scenarios)]
        if not self.evidence.empty:
            parts += ['**Evidence** (`result.evidence`)', _markdown_table(self.evidence)]
        if self.figure is not None:
            parts.append('*Figure: `result.figure`*')
        return '\n\n'.join(parts)

    def _repr_html_(self) -> str:
        colour = '#009E73' if self.passed else '#D55E00'
        parts = [f'<div style="border-left: 4px solid {colour}; padding-left: 0.8em">',
                 f'<h4>{html.escape(self.headline)}</h4>', _html(self.explanation),
                 '<details open><summary><b>Hidden scenarios</b></summary>',
                 self.scenarios.to_html(index=False), '</details>']
        if not self.evidence.empty:
            parts += ['<details open><summary><b>Evidence</b> (<code>result.evidence</code>)'
                      '</summary>', self.evidence.to_html(index=False, max_rows=MAX_ROWS),
                      '</details>']
        if self.figure is not None:
            parts.append(_png(self.figure))
        parts.append('</div>')
        return '\n'.join(parts)


# -- rendering helpers -------------------------------------------------------------------------
def _plain(text: str) -> str:
    return text.replace('**', '').replace('`', '')


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r'`([^`]+)`', r'<code>\1</code>', text)
    return re.sub(r'\*\*([^*]+)\*\*', r'<b>\1</b>', text)


def _html(text: str) -> str:
    """The small markdown subset explanations use: paragraphs, ``- `` lists, `code`, **bold**."""
    out = []
    for block in text.split('\n\n'):
        lines = block.splitlines()
        items = [line[2:] for line in lines if line.startswith('- ')]
        head = [line for line in lines if not line.startswith('- ')]
        if head:
            out.append(f'<p>{_inline(" ".join(head))}</p>')
        if items:
            out.append('<ul>' + ''.join(f'<li>{_inline(i)}</li>' for i in items) + '</ul>')
    return '\n'.join(out)


def _markdown_table(frame: pd.DataFrame) -> str:
    shown = frame.head(MAX_ROWS)
    cells = [[str(v).replace('|', '\\|') for v in row] for row in shown.itertuples(index=False)]
    lines = ['| ' + ' | '.join(map(str, frame.columns)) + ' |',
             '|' + '---|' * len(frame.columns)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in cells]
    if len(frame) > MAX_ROWS:
        lines.append(f'\n*... {len(frame) - MAX_ROWS} more rows*')
    return '\n'.join(lines)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=90)
    data = base64.b64encode(buffer.getvalue()).decode('ascii')
    return f'<img alt="figure" src="data:image/png;base64,{data}"/>'
