"""Controls: the knobs of an explorer, as data.

An explorer is declared with a list of controls, each one a small frozen record that knows
three things: its *name* (the keyword a factory takes and the key of ``explorer.controls``),
the values it accepts, and how to make the ipywidget that shows it.

* :class:`Number` -- a slider over ``[low, high]`` (whole numbers if ``integer``);
* :class:`Choice` -- a drop-down list of options;
* :class:`Toggle` -- a check box.

:meth:`Control.check` is what makes a factory refuse bad input: ``alarm_loop(interval_s=-5)``
raises a :class:`ValueError` that names the control and the value, instead of a slider
silently clamping -5 to its minimum. Sliders are made with ``continuous_update=False``: they
report a new value when you let go, not on every pixel of the drag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets

__all__ = ['Choice', 'Control', 'Number', 'Toggle', 'check_values']

_STYLE = {'description_width': 'initial'}


@dataclass(frozen=True)
class Control:
    """Base of the control records: *name*, *label* (shown beside the widget), *default*
    and *help* (a tooltip)."""

    name: str
    label: str
    default: Any
    help: str = ''

    def check(self, value: Any, where: str) -> Any:
        """*value*, if this control accepts it; else a ValueError/TypeError naming
        ``where(name)`` and the value."""
        raise NotImplementedError

    def widget(self, value: Any) -> ipywidgets.ValueWidget:
        """A new ipywidget showing *value*."""
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Control):
    """A number in ``[low, high]``, shown as a slider moving by *step*; *integer* makes it
    a whole number (an ``IntSlider``)."""

    low: float = 0
    high: float = 1
    step: float = 1
    integer: bool = True

    def check(self, value: Any, where: str) -> Any:
        ok_type = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            kind = 'a whole number' if self.integer else 'a number'
            raise TypeError(f'{where}({self.name}): {kind} in [{self.low:g}, {self.high:g}], '
                            f'got {value!r}')
        if not self.low <= value <= self.high:
            raise ValueError(f'{where}({self.name}): must lie in [{self.low:g}, {self.high:g}], '
                             f'got {value!r}')
        return value

    def widget(self, value: Any) -> ipywidgets.ValueWidget:
        cls = ipywidgets.IntSlider if self.integer else ipywidgets.FloatSlider
        return cls(value=value, min=self.low, max=self.high, step=self.step,
                   description=self.label, tooltip=self.help, continuous_update=False,
                   style=_STYLE, layout=ipywidgets.Layout(width='330px'))


@dataclass(frozen=True)
class Choice(Control):
    """One of *options* (strings), shown as a drop-down list."""

    options: Sequence[str] = ()

    def check(self, value: Any, where: str) -> Any:
        if value not in self.options:
            raise ValueError(f'{where}({self.name}): one of {", ".join(map(repr, self.options))}'
                             f'; got {value!r}')
        return value

    def widget(self, value: Any) -> ipywidgets.ValueWidget:
        return ipywidgets.Dropdown(value=value, options=list(self.options),
                                   description=self.label, tooltip=self.help, style=_STYLE,
                                   layout=ipywidgets.Layout(width='330px'))


@dataclass(frozen=True)
class Toggle(Control):
    """On or off, shown as a check box."""

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, bool):
            raise TypeError(f'{where}({self.name}): True or False, got {value!r}')
        return value

    def widget(self, value: Any) -> ipywidgets.ValueWidget:
        return ipywidgets.Checkbox(value=value, description=self.label, tooltip=self.help,
                                   indent=False, style=_STYLE,
                                   layout=ipywidgets.Layout(width='330px'))


def check_values(controls: Sequence[Control], given: Mapping[str, Any],
                 where: str) -> dict[str, Any]:
    """Every control's value: *given* where present, the default elsewhere. Unknown names
    raise a TypeError listing the known ones; bad values the control's own error."""
    known = {c.name: c for c in controls}
    for name in given:
        if name not in known:
            raise TypeError(f'{where}(): unknown control {name!r} (value {given[name]!r}); '
                            f'controls: {", ".join(known)}')
    return {c.name: c.check(given.get(c.name, c.default), where) for c in controls}
