"""The world of exercise 2: an agent that mails a digest every minute, and a mail provider.

:class:`DigestAgentBase` is what the student's agent extends. It gives the agent

* ``start_loop()`` (RPC): set the first alarm, now;
* ``self.mail``: the mail provider; ``yield self.mail.send(to, digest, key=None)`` mails
  digest number *digest* (a call to another object: the input gate opens while it is in
  flight) and answers ``{'id': ..., 'duplicate': bool}``;
* ``yield from self.summarise(digest)``: the LLM step after each mail, an outbound fetch that
  fails now and then with :class:`LLMError`;
* ``owner`` and ``period_ms`` (60 s), as class attributes.

:class:`MailProvider` is the outside world. It keeps an idempotency table, as real mail and
payment APIs do: a ``send`` with a ``key`` it has seen is not mailed again, it answers with
the first mail's id and ``duplicate: True``. The checker reads its ``log`` -- one row per
``send`` that reached it -- to see which digests went out how often. Its class attributes
(set per scenario) make it refuse sends (``503``) and crash the agent right after accepting a
digest, the moment no storage write can protect.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

from ..context import active, fetch_external, now, stream
from ..errors import DurableObjectError
from ..object import DurableObject
from .scenario import fresh

__all__ = [
    'DigestAgentBase', 'LLMError', 'MailProvider', 'Mailer', 'ProviderBusyError', 'digest_world',
]


class LLMError(RuntimeError):
    """The LLM step of a cycle failed (a timeout, an overloaded model)."""


class ProviderBusyError(RuntimeError):
    """The mail provider refused a send: try again later."""


class DigestAgentBase(DurableObject):
    """The agent's base class: see the module docstring."""

    owner = 'owner@example.com'
    period_ms = 60_000
    llm_latency_ms = 800.0
    llm_failure_rate = 0.0

    def start_loop(self) -> Generator[Any, Any, str]:
        yield self.ctx.storage.set_alarm(now())
        return 'started'

    @property
    def mail(self) -> Mailer:
        """The mail provider: ``yield self.mail.send(to, digest, key=None)``."""
        return Mailer(self.env.MAIL.get_by_name('provider'))

    def summarise(self, digest: int) -> Generator[Any, Any, None]:
        """Ask the LLM to summarise what digest *digest* said; raises :class:`LLMError` at
        the rate ``llm_failure_rate``."""
        yield fetch_external(latency_ms=self.llm_latency_ms)
        if self.llm_failure_rate and stream('llm').random() < self.llm_failure_rate:
            raise LLMError(f'the model timed out summarising digest #{digest}')


class Mailer:
    """The agent's handle on the provider: an RPC stub with a keyword-friendly ``send``."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def send(self, to: str, digest: int, key: str | None = None) -> Any:
        """Mail digest number *digest* to *to*; *key* is the idempotency key (a string)."""
        return self._stub.send(to, digest, key)


class MailProvider(DurableObject):
    """The mail provider (see the module docstring). Per scenario: ``outages`` -- a list of
    ``(start_ms, end_ms)`` when every send is refused; ``refuse_first`` -- digests whose first
    send is refused; ``crash_after`` -- digests after whose first acceptance the agent is
    reset; ``sim`` and ``log``."""

    sim: ClassVar[Any] = None
    log: ClassVar[list[dict[str, Any]]] = []
    keys: ClassVar[dict[str, int]] = {}
    outages: ClassVar[tuple[tuple[float, float], ...]] = ()
    refuse_first: ClassVar[frozenset[int]] = frozenset()
    crash_after: ClassVar[frozenset[int]] = frozenset()
    start_error: ClassVar[str | None] = None   # why the agent's start_loop() failed, if it did

    def send(self, to: str, digest: int, key: str | None = None) -> dict[str, Any]:
        if isinstance(digest, bool) or not isinstance(digest, int) or digest < 1:
            raise TypeError(f'send(digest): the digest number, an int >= 1, got {digest!r}')
        if key is not None and not isinstance(key, str):
            raise TypeError(f'send(key): a string or None, got {key!r}')
        cls = type(self)
        t = cls.sim.now
        row = {'time_ms': t, 'digest': digest, 'key': key,
               'request_id': active.invocation.rid if active.invocation else -1}
        if self._refuses(t, digest):
            cls.log.append({**row, 'result': 'refused'})
            raise ProviderBusyError('503 Service Unavailable: the mail provider is busy')
        if key is not None and key in cls.keys:
            cls.log.append({**row, 'result': 'deduplicated'})
            return {'id': cls.keys[key], 'duplicate': True}
        first = not any(r['digest'] == digest and r['result'] == 'delivered' for r in cls.log)
        cls.log.append({**row, 'result': 'delivered'})
        mail_id = sum(r['result'] == 'delivered' for r in cls.log)
        if key is not None:
            cls.keys[key] = mail_id
        if first and digest in cls.crash_after:
            cls.sim.faults.reset(t, 'AGENTS', 'agent')
        return {'id': mail_id, 'duplicate': False}

    def _refuses(self, t: float, digest: int) -> bool:
        cls = type(self)
        if any(start <= t < end for start, end in cls.outages):
            return True
        tried = any(r['digest'] == digest for r in cls.log)
        return digest in cls.refuse_first and not tried


def digest_world(sim: Any, agent: type, llm_failure_rate: float = 0.0,
                 **provider: Any) -> type[MailProvider]:
    """Bind a fresh copy of *agent* as ``AGENTS`` (its LLM failing at *llm_failure_rate*) and
    a mail provider as ``MAIL`` (with the *provider* settings: ``outages``, ``refuse_first``,
    ``crash_after``) in *sim*, and start the loop of the agent named ``'agent'``. Returns the
    provider class: its ``log`` lists every send that reached it."""
    if not (isinstance(agent, type) and issubclass(agent, DigestAgentBase)):
        raise TypeError(f'digest_world(agent): a DigestAgentBase subclass, got {agent!r}')
    unknown = set(provider) - {'outages', 'refuse_first', 'crash_after'}
    if unknown:
        raise TypeError(f'digest_world(): unknown provider setting {sorted(unknown)[0]!r}')
    mail = fresh(MailProvider, sim=sim, log=[], keys={}, **provider)
    sim.namespace('MAIL', mail)
    agents = sim.namespace('AGENTS', fresh(agent, llm_failure_rate=llm_failure_rate))

    def start() -> Generator[Any, Any, None]:
        try:
            yield agents.get_by_name('agent').start_loop()
        except DurableObjectError as exc:
            mail.start_error = exc.message

    sim.process(start())
    return mail
