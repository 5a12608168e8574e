"""The machinery every explorer shares: controls in, a seeded simulation, a picture out.

An :class:`Explorer` holds

* ``controls`` -- ipywidgets by name (sliders, drop-down lists, check boxes);
* ``simulate(values) -> Simulation`` -- runs a small model; *values* are the controls'
  values plus ``'seed'``, so the same values always give the same run;
* ``draw(sim, fig) -> dict`` -- draws the run on a bare ``matplotlib.figure.Figure`` and
  returns the headline numbers, shown on one line under the plot.

When a control changes, the explorer runs the simulation again and redraws. The figure is
rendered to PNG bytes in an ``ipywidgets.Image``, so what you see is a real widget whose
``value`` changes; the figure is made with ``Figure`` directly, never pyplot, so nothing is
left open in pyplot's list of figures and the notebook's backend is untouched. It has no
layout engine (a constrained layout doubles the time to render): each ``draw`` places its
axes with ``fig.subplots_adjust`` or a grid spec's margins.

Debouncing: a slider reports its value when you let go of it (``continuous_update=False``).
On top of that, when an asyncio event loop is running -- as it is in a Jupyter kernel -- a
change only starts a timer of ``debounce_s`` seconds (0.25 by default); every change before
it fires restarts it, so moving three controls quickly costs one run, not three. Without a
running loop (plain Python, pytest) each change is applied at once. Reading ``sim``,
``figure`` or ``summary`` applies a waiting change first, so a notebook cell that sets a
control and then reads the result sees the new run; ``runs`` counts the runs made so far.
"""

from __future__ import annotations

import asyncio
import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets

from ._controls import Control, check_values

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..simulation import Simulation

__all__ = ['Explorer']

Simulate = Callable[[dict[str, Any]], 'Simulation']
Draw = Callable[['Simulation', 'Figure'], dict[str, Any]]


class Explorer:
    """Controls, a seeded simulation and its picture, rerun when a control changes.

    *name* is the factory's name (used in error messages); *controls* the
    :class:`~dosim.widgets._controls.Control` records; *values* overrides their defaults;
    *labels* maps summary keys to the words shown under the plot; *intro* is a sentence or
    two of HTML above the controls. See the module docstring for *debounce_s*.
    """

    def __init__(
        self, name: str, controls: Sequence[Control], simulate: Simulate, draw: Draw, *,
        values: Mapping[str, Any] | None = None, seed: int = 0, debounce_s: float = 0.25,
        intro: str = '', labels: Mapping[str, str] | None = None,
        figsize: tuple[float, float] = (9.0, 6.0), dpi: int = 72,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'{name}(seed): a whole number >= 0, got {seed!r}')
        if isinstance(debounce_s, bool) or not isinstance(debounce_s, (int, float)) \
                or not 0 <= debounce_s <= 10:
            raise ValueError(f'{name}(debounce_s): seconds in [0, 10], got {debounce_s!r}')
        self.name = name
        self.specs = {c.name: c for c in controls}
        start = check_values(controls, values or {}, name)
        self.simulate, self.draw = simulate, draw
        self.seed, self.debounce_s = seed, float(debounce_s)
        self.labels = dict(labels or {})
        self.figsize, self.dpi = figsize, dpi
        self.controls = {n: spec.widget(start[n]) for n, spec in self.specs.items()}
        self.image = ipywidgets.Image(format='png')
        self.summary_line = ipywidgets.HTML()
        self.widget = self._layout(intro)
        self.runs = 0
        self.error: str | None = None
        self._sim: Simulation | None = None
        self._figure: Figure | None = None
        self._summary: dict[str, Any] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._holding = False
        for w in self.controls.values():
            w.observe(self._changed, names='value')
        self.update()

    def _layout(self, intro: str) -> ipywidgets.VBox:
        box = ipywidgets.Box(list(self.controls.values()),
                             layout=ipywidgets.Layout(flex_flow='row wrap'))
        head = [ipywidgets.HTML(intro)] if intro else []
        return ipywidgets.VBox([*head, box, self.image, self.summary_line])

    def __repr__(self) -> str:
        shown = ', '.join(f'{k}={v!r}' for k, v in self.values.items())
        return f'<{self.name} explorer: {shown}; seed={self.seed}, runs={self.runs}>'

    # -- display -----------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- the state of the last run -------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {n: w.value for n, w in self.controls.items()}

    @property
    def sim(self) -> Simulation:
        """The last :class:`~dosim.Simulation` run (after applying a waiting change)."""
        self.flush()
        assert self._sim is not None
        return self._sim

    @property
    def figure(self) -> Figure:
        """The last ``matplotlib.figure.Figure`` drawn (after applying a waiting change)."""
        self.flush()
        assert self._figure is not None
        return self._figure

    @property
    def summary(self) -> dict[str, Any]:
        """The headline numbers under the plot (after applying a waiting change)."""
        self.flush()
        return dict(self._summary)

    @property
    def pending(self) -> bool:
        """Whether a change is waiting for its debounce timer."""
        return self._timer is not None

    # -- changing and running ------------------------------------------------------------------
    def set(self, **values: Any) -> Explorer:
        """Set several controls at once (checked as the factory checks them), then run
        once, now. Returns the explorer, so a notebook cell can end with it."""
        merged = check_values(list(self.specs.values()), {**self.values, **values}, self.name)
        self._holding = True
        try:
            for n in values:
                self.controls[n].value = merged[n]
        finally:
            self._holding = False
        self.update()
        return self

    def flush(self) -> None:
        """Apply a change waiting for its debounce timer now, if there is one."""
        if self._timer is not None:
            self.update()

    def update(self) -> None:
        """Run the simulation with the current values and redraw, now."""
        self._cancel()
        from matplotlib.figure import Figure

        sim = self.simulate({**self.values, 'seed': self.seed})
        self.runs += 1
        fig = Figure(figsize=self.figsize)   # no layout engine: it would double the time
        summary = self.draw(sim, fig)
        self.image.value = self._png(fig)
        self._sim, self._figure, self._summary = sim, fig, summary
        self.error = None
        self.summary_line.value = self._summary_html(summary)

    def _changed(self, _change: Any) -> None:
        if self._holding:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.debounce_s == 0:
            self.update()
            return
        self._cancel()
        self._timer = loop.call_later(self.debounce_s, self._fire)

    def _fire(self) -> None:
        """The debounce timer: run, and show an error under the plot rather than raise it
        into the event loop, where nobody would see it."""
        self._timer = None
        try:
            self.update()
        except Exception as exc:   # shown to the user, who can act on it
            self.error = f'{type(exc).__name__}: {exc}'
            self.summary_line.value = (f'<span style="color:#D55E00">'
                                       f'{html.escape(self.error)}</span>')

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- rendering -------------------------------------------------------------------------------
    def _png(self, fig: Figure) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=self.dpi, metadata={'Software': None})
        return buf.getvalue()

    def _summary_html(self, summary: Mapping[str, Any]) -> str:
        parts = [f'<b>{html.escape(self.labels.get(k, k.replace("_", " ")))}</b> '
                 f'{html.escape(_format(v))}' for k, v in summary.items()]
        return '<div style="line-height:1.6">' + ' &nbsp;·&nbsp; '.join(parts) + '</div>'


def _format(value: Any) -> str:
    """A summary value as text: floats to 4 significant digits, lists joined by commas."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, (list, tuple)):
        return ', '.join(_format(v) for v in value) or 'none'
    return str(value)
