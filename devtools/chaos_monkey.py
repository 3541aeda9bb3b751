"""The chaos run's monkey: SIGKILLs workers at random moments and in the middle of a transfer create, and
restarts the Temporal dev server when asked.

A create is caught in the middle by a `held` fault on the create route: the broker has made the transfer and
holds the answer for a moment; the monkey sees the rule fire and kills every worker before any can record
it. A worker that is down, killed or exited, comes back after a short pause, as an orchestrator would
bring it back.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from devtools.localstack import LocalStack
from simulator.scenarios import ScenarioBuilder

CREATE = "POST /v1/accounts/{account_id}/transfers"


@dataclass
class ChaosCounts:
    worker_kills: int = 0
    kills_mid_create: int = 0  # creates whose held answer never reached a worker
    server_restarts: int = 0
    restart_seconds: list[float] = field(default_factory=list)


class ChaosMonkey(threading.Thread):
    def __init__(
        self,
        stack: LocalStack,
        broker: ScenarioBuilder,
        workers: list[str],
        rng: random.Random,
        kill_every: float,
        temporal_port: int,
    ) -> None:
        super().__init__(name="chaos-monkey", daemon=True)
        self.stack, self.broker, self.workers, self.rng = stack, broker, workers, rng
        self.kill_every, self.temporal_port = kill_every, temporal_port
        self.counts = ChaosCounts()
        self.failure: BaseException | None = None
        self._stopping = threading.Event()
        self._restart_wanted = threading.Event()
        self._back_at: dict[str, float] = {}
        self._held_seen = 0

    def restart_server(self) -> None:
        self._restart_wanted.set()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=60)
        for name in self.workers:  # every worker up, for the last look at the closures
            if not self.stack.running(name):
                self.stack.restart(name)

    def run(self) -> None:
        try:
            next_kill = time.monotonic() + self.rng.expovariate(1 / self.kill_every)
            while not self._stopping.wait(0.1):
                if self._restart_wanted.is_set():
                    self._restart_wanted.clear()
                    self._restart_temporal()
                caught = self._creates_held()
                if caught:
                    for name in self.workers:
                        self._kill(name)
                    self.counts.kills_mid_create += caught
                if time.monotonic() >= next_kill:
                    self._kill(self.rng.choice(self.workers))
                    next_kill = time.monotonic() + self.rng.expovariate(1 / self.kill_every)
                self._bring_back()
        except BaseException as exc:  # the driver reports it; a dead monkey must not pass as a calm run
            self.failure = exc

    def _kill(self, name: str) -> None:
        if self.stack.kill(name):
            self.counts.worker_kills += 1
            self._back_at[name] = time.monotonic() + self.rng.uniform(0.5, 3.0)

    def _bring_back(self) -> None:
        for name in self.workers:  # one that exited on its own (it could not reach a restarting server)
            if name not in self._back_at and not self.stack.running(name):
                self._back_at[name] = time.monotonic() + 1.0
        for name, at in list(self._back_at.items()):
            if time.monotonic() >= at:
                self.stack.restart(name)
                del self._back_at[name]

    def _creates_held(self) -> int:
        """Creates made since the last look whose answers are still held (two at once are caught by one kill)."""
        rules = self.broker.control("GET", "/faults")["rules"]
        held: int = sum(r["hits"] for r in rules if r["kind"] == "held" and r["route"] == CREATE)
        fresh, self._held_seen = held - self._held_seen, held
        return fresh

    def _restart_temporal(self) -> None:
        began = time.monotonic()
        self.stack.kill("temporal")
        time.sleep(self.rng.uniform(1.0, 3.0))
        self.stack.restart("temporal", port=self.temporal_port)
        self.counts.server_restarts += 1
        self.counts.restart_seconds.append(round(time.monotonic() - began, 1))
