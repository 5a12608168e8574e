"""Exercise 2 -- the digest that went out twice: a reference solution and the wrong answers.

Two bugs: (1) after the mail has gone, a failed LLM step or a reset makes the alarm run
again, and the rerun mails the same digest again; (2) when the provider is down for longer
than the runtime's retries last (about two minutes), the alarm is abandoned and the loop dies.

The fix used here: set the next alarm *first* -- whatever happens in this run, the chain goes
on (a failed run is then followed by the next cycle instead of a retry) -- and give the
provider an idempotency key derived from stored state: the digest number. Every attempt at
digest *n*, retry or rerun after a crash, carries ``digest-<n>``, and the provider mails it
once. ``sent`` moves on only after the provider accepted digest *n* and the LLM step ran.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import dosim
from dosim.edu import DigestAgentBase


class DigestAgent(DigestAgentBase):
    """The reference solution."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        yield st.set_alarm(dosim.now() + self.period_ms)       # the loop survives this run
        n = ((yield st.get('sent')) or 0) + 1
        yield self.mail.send(self.owner, n, key=f'digest-{n}')  # the same key on every attempt
        yield from self.summarise(n)
        st.put('sent', n)


# -- common wrong answers (the checker's reply to each is in notebooks/README.md) ---------------
class KeyButNoSurvival(DigestAgentBase):
    """Wrong: the key stops the duplicates, but the next alarm is still set at the end, so a
    five-minute outage exhausts the runtime's retries and the alarm is abandoned."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        n = ((yield st.get('sent')) or 0) + 1
        yield self.mail.send(self.owner, n, key=f'digest-{n}')
        yield from self.summarise(n)
        st.put('sent', n)
        yield st.set_alarm(dosim.now() + self.period_ms)


class ClockKey(DigestAgentBase):
    """Wrong: a key made from the clock differs on every attempt, so the provider cannot
    recognise a retry."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        yield st.set_alarm(dosim.now() + self.period_ms)
        n = ((yield st.get('sent')) or 0) + 1
        yield self.mail.send(self.owner, n, key=f'digest-{dosim.now()}')
        yield from self.summarise(n)
        st.put('sent', n)


class MarkAfterSending(DigestAgentBase):
    """Wrong: a 'mailed' mark in storage after the send covers a failed LLM step, but not a
    crash between the provider accepting the mail and the mark being written."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        yield st.set_alarm(dosim.now() + self.period_ms)
        n = ((yield st.get('sent')) or 0) + 1
        if not (yield st.get(f'mailed:{n}')):
            yield self.mail.send(self.owner, n)
            st.put(f'mailed:{n}', True)
        yield from self.summarise(n)
        st.put('sent', n)


class MarkBeforeSending(DigestAgentBase):
    """Wrong: marking the digest as mailed *before* sending turns at-least-once into
    at-most-once: a refused send is never tried again, and the digest is lost."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        yield st.set_alarm(dosim.now() + self.period_ms)
        n = ((yield st.get('sent')) or 0) + 1
        if not (yield st.get(f'mailed:{n}')):
            st.put(f'mailed:{n}', True)
            yield self.mail.send(self.owner, n)
        yield from self.summarise(n)
        st.put('sent', n)
