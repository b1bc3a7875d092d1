"""Fault injection: server errors, flood limits and latency on chosen Bot API methods.

Off by default. Rules are per method name (case-insensitive) or ``"*"`` for every method but
``getUpdates`` (which only a rule naming it explicitly affects). Draws come from one seeded
``random.Random`` so a run is reproducible. A faulted call is not carried out.

    emu.faults.set("sendMessage", server_error=0.2, too_many_requests=0.1, retry_after=2)
    emu.faults.set("*", delay=0.05)          # every call waits 50 ms
    emu.faults.fail_next("sendPhoto", 429, retry_after=1)
    emu.faults.set("sendMessage", drop=0.05)  # 5% of calls: connection closed, no answer
    emu.faults.set("sendMessage", answer_delay=1.0)  # done at once, answered a second later
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import ApiError

ALL = "*"


@dataclass
class FaultRule:
    """Rates are probabilities in [0, 1]; ``delay`` is seconds added with ``delay_rate``."""

    server_error: float = 0.0
    server_error_code: int = 500
    too_many_requests: float = 0.0
    retry_after: int = 1
    delay: float = 0.0
    delay_rate: float = 1.0
    drop: float = 0.0  # the connection is closed without an answer (the call is not done)
    # The call is carried out at once and its answer comes this much later (a slow way back):
    # a client that gives up meanwhile cannot tell whether it was done.
    answer_delay: float = 0.0


@dataclass
class FaultDecision:
    delay: float = 0.0
    error: ApiError | None = None
    drop: bool = False
    answer_delay: float = 0.0


def server_error(code: int = 500) -> ApiError:
    texts = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return ApiError(code, texts.get(code, "Internal Server Error"))


def flood_error(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass
class Faults:
    seed: int = 0
    rules: dict[str, FaultRule] = field(default_factory=dict)
    _pending: dict[str, list[ApiError]] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def set(
        self,
        method: str = ALL,
        *,
        server_error: float = 0.0,
        server_error_code: int = 500,
        too_many_requests: float = 0.0,
        retry_after: int = 1,
        delay: float = 0.0,
        delay_rate: float = 1.0,
        drop: float = 0.0,
        answer_delay: float = 0.0,
    ) -> FaultRule:
        rule = FaultRule(
            drop=drop,
            answer_delay=answer_delay,
            server_error=server_error,
            server_error_code=server_error_code,
            too_many_requests=too_many_requests,
            retry_after=retry_after,
            delay=delay,
            delay_rate=delay_rate,
        )
        self.rules[method.lower()] = rule
        return rule

    def fail_next(
        self, method: str, error_code: int = 500, *, retry_after: int = 1, description: str = ""
    ) -> None:
        """Make the next call of ``method`` fail once with this code (429 gets retry_after)."""
        if error_code == 429:
            error = flood_error(retry_after)
        elif error_code >= 500:
            error = server_error(error_code)
        else:
            error = ApiError(error_code, description or f"Bad Request: injected fault {error_code}")
        if description:
            error = ApiError(error.error_code, description, error.parameters)
        self._pending.setdefault(method.lower(), []).append(error)

    def clear(self) -> None:
        self.rules.clear()
        self._pending.clear()

    @property
    def active(self) -> bool:
        return bool(self.rules or self._pending)

    def decide(self, method: str) -> FaultDecision:
        key = method.lower()
        pending = self._pending.get(key)
        if pending:
            error = pending.pop(0)
            if not pending:
                del self._pending[key]
            return FaultDecision(error=error)
        rule = self.rules.get(key)
        if rule is None and key != "getupdates":
            rule = self.rules.get(ALL)
        if rule is None:
            return FaultDecision()
        decision = FaultDecision(answer_delay=rule.answer_delay)
        if rule.delay > 0 and self._rng.random() < rule.delay_rate:
            decision.delay = rule.delay
        roll = self._rng.random()
        if roll < rule.server_error:
            decision.error = server_error(rule.server_error_code)
        elif roll < rule.server_error + rule.too_many_requests:
            decision.error = flood_error(rule.retry_after)
        elif roll < rule.server_error + rule.too_many_requests + rule.drop:
            decision.drop = True
        return decision
