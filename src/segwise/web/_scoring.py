"""``POST /score``: validated requests, batched into one model call, and the scorer hook.

A scorer is anything with a ``name``, pydantic ``request_model`` and ``response_model``,
and an async ``score(request)``. The assigner (a new customer's first orders in, segment
and probabilities out) is the first; a propensity model (a person's attributes in) plugs
in the same way and is served at ``POST /score/<name>``.

Concurrent requests are gathered into one batch: every waiting customer's lines are
cleaned and turned into features together, and the model is called once, so throughput
grows with load instead of queueing behind a per-request fixed cost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
import multiprocessing
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from segwise.exceptions import InputError, SegwiseError, SegwiseWarning

__all__ = ["AssignerScorer", "ScoreRequest", "ScoreResponse", "Scorer", "scorers_for"]

_EARLIEST = dt.datetime(1970, 1, 1)
_LATEST = dt.datetime(2100, 1, 1)
#: How far past now a time may lie (clocks, zones read as UTC) before it is in the future.
_SLACK = dt.timedelta(days=1)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """Return the time in UTC without a zone; it must lie between 1970 and 2100."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 east of UTC, or 9999 west of it
            raise ValueError("must lie between 1970 and 2100") from None
    if not _EARLIEST <= value < _LATEST:
        raise ValueError("must lie between 1970 and 2100")
    return value


def _text_time(value: Any) -> Any:
    """Refuse a time given as a number: 20110110 would be read as seconds since 1970."""
    if not isinstance(value, str | dt.datetime):
        raise ValueError("must be ISO 8601 text, such as \"2011-01-10T10:00:00\" (a number "
                         "would be read as seconds since 1970)")
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_text_time), AfterValidator(_naive_utc)]
Text = Annotated[str, Field(min_length=1, max_length=100)]


class OrderLine(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")

    order_id: Text = Field(description="The order (invoice) the line belongs to. As in the "
                                       "training data's invoices, C followed by digits "
                                       "(C536379) is a cancellation and A followed by digits "
                                       "a bad-debt adjustment, left out.")
    timestamp: Timestamp = Field(description="When the order was placed (ISO 8601).")
    # Strict: a JSON number only; true would be 1 unit and "1,5" or "12" a guess.
    quantity: float = Field(ge=-1e6, le=1e6, allow_inf_nan=False, strict=True,
                            description="Units; negative for a return.")
    unit_price: float = Field(ge=-1e7, le=1e7, allow_inf_nan=False, strict=True,
                              description="Price of one unit.")
    product_id: Text | None = Field(default=None, description="Product code.")
    description: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Product description.")
    country: Text | None = Field(default=None, description="The customer's country.")


class ScoreRequest(BaseModel):
    """A new customer's first orders."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Text = Field(description="The customer's id, echoed back.")
    orders: list[OrderLine] = Field(min_length=1, max_length=1000,
                                    description="Order lines of the customer's first orders.")
    as_of: Timestamp | None = Field(
        default=None, description="End of observation (now when omitted): a day window "
                                  "counts as complete once it has elapsed. No order may "
                                  "come after it, nor it after now.")

    @model_validator(mode="after")
    def _observed(self) -> ScoreRequest:
        """Refuse orders after the end of observation, and an end still to come.

        Either made a window look complete that is not (an order dated next year, scored
        as of now, counted among the first orders; as_of in 2099 had every day window
        elapsed). A day's slack covers clocks and zones: times are read as UTC.
        """
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if self.as_of is not None and self.as_of > now + _SLACK:
            raise ValueError(f"as_of {self.as_of.isoformat()} is still to come (now is "
                             f"{now:%Y-%m-%dT%H:%M} UTC). Fix: leave as_of out to score as of "
                             "now, or give a time that has passed")
        end = self.as_of or now + _SLACK
        for i, line in enumerate(self.orders):
            if line.timestamp > end:
                said = (f"as_of {end.isoformat()}" if self.as_of is not None
                        else f"now ({now:%Y-%m-%dT%H:%M} UTC)")
                raise ValueError(
                    f"orders[{i}].timestamp {line.timestamp.isoformat()} is after {said}, the "
                    "end of observation. Fix: give orders placed by then"
                    + (", or a later as_of" if self.as_of is not None else ""))
        return self


class ScoreResponse(BaseModel):
    """The segment the customer is expected to be in, with a probability per segment."""

    customer_id: str
    segment: str
    probability: float
    probabilities: dict[str, float]
    orders_used: int = Field(description="Orders the model looked at (the window's).")
    window_complete: bool = Field(description="False while the customer has fewer orders "
                                              "(or days) than the window; less reliable.")
    model: str


class Scorer(Protocol):
    """What ``POST /score`` serves: a validated request in, a response out."""

    name: str
    description: str
    request_model: type[BaseModel]
    response_model: type[BaseModel]

    async def score(self, request: Any) -> BaseModel:
        """Score one request; raise :class:`InputError` for input it cannot score."""
        ...

    async def start(self) -> None:
        """Start background work (called when the server starts)."""
        ...

    async def stop(self) -> None:
        """Stop background work."""
        ...


class AssignerScorer:
    """The assigner behind ``POST /score``, with requests batched.

    Parameters
    ----------
    scorer : segwise.predict.OrderScorer
        The model and its cleaning rules.
    name : str, default="assigner"
        How the model is named in responses and the URL.
    max_batch : int, default=512
        Most requests scored in one model call.
    max_queue : int, default=10_000
        Most requests waiting; beyond it requests get 503 (none is dropped silently).
    process : bool, default=False
        Score in a worker process of its own (what ``segwise serve`` does unless given
        ``--scoring-thread``) rather than in a thread. A request's lines are cleaned and
        turned into features in Python, which holds the interpreter lock; in a worker the
        event loop keeps answering meanwhile. Measured with ``benchmarks/score_load.py``
        on two cores at 200 requests/s: p99 29-31 ms in the worker, 63-64 ms in a thread.
    """

    description = "Segment of a new customer from their first orders (the assigner)."
    request_model: type[BaseModel] = ScoreRequest
    response_model: type[BaseModel] = ScoreResponse

    def __init__(self, scorer: Any, *, name: str = "assigner", max_batch: int = 512,
                 max_queue: int = 10_000, process: bool = False) -> None:
        self.scorer = scorer
        self.name = name
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.process = process
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[ScoreRequest, asyncio.Future[ScoreResponse]]]
        self._worker: asyncio.Task[None] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._ids = itertools.count()

    async def start(self) -> None:
        """Start the batching worker on the running event loop (and its process)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop = loop
            self._queue = asyncio.Queue(self.max_queue)
            if self.process and self._pool is None:
                await self._start_pool()
            self._worker = loop.create_task(self._run())

    async def _start_pool(self) -> None:
        self._pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(self.scorer.trained,))
        # Started (and the model loaded) before the server takes requests.
        await asyncio.get_running_loop().run_in_executor(self._pool, _score_groups, [])

    async def stop(self) -> None:
        """Stop the worker; waiting requests fail."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """Queue a request and wait for its batch.

        Raises
        ------
        InputError
            If no purchase line of the customer is left after cleaning.
        OverflowError
            If the queue is full.
        """
        await self.start()  # nothing to do once started on this loop
        future: asyncio.Future[ScoreResponse] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((request, future))
        except asyncio.QueueFull:
            raise OverflowError("too many requests waiting; try again shortly") from None
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._score_batch([r for r, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _score_batch(self, requests: list[ScoreRequest]
                           ) -> list[ScoreResponse | Exception]:
        """Score a batch: requests grouped by end of observation, one model call per group."""
        from segwise.predict import order_line_columns

        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        keys = [f"r{next(self._ids)}" for _ in requests]
        groups: dict[dt.datetime, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.as_of or now, []).append(i)
        work = [(order_line_columns({keys[i]: [line.model_dump() for line in
                                              requests[i].orders] for i in members}), as_of)
                for as_of, members in groups.items()]
        if self._pool is not None:
            try:
                scored = await asyncio.get_running_loop().run_in_executor(
                    self._pool, _score_groups, work)
            except BrokenProcessPool:
                # The worker was killed (out of memory, say): every later request failed
                # with a 500. This batch is refused, not retried (it may be what killed
                # it), and the next one has a new worker.
                self._pool.shutdown(wait=False, cancel_futures=True)
                await self._start_pool()
                raise ScoringUnavailableError(
                    "the scoring worker stopped (killed, or out of memory) and was started "
                    "again; try again shortly") from None
        else:
            scored = await asyncio.to_thread(_score_groups, work, self.scorer)
        out: list[ScoreResponse | Exception] = [
            InputError(_nothing_left(self.scorer.rules))] * len(requests)
        for members, records in zip(groups.values(), scored, strict=True):
            rows = {r["customer_id"]: r for r in records}
            for i in members:
                row = rows.get(keys[i])
                if row is not None:
                    out[i] = self._response(requests[i], row)
        return out

    def _response(self, request: ScoreRequest, row: dict[str, Any]) -> ScoreResponse:
        probabilities = {k.removeprefix("p_"): float(v) for k, v in row.items()
                         if k.startswith("p_") and v is not None and math.isfinite(v)}
        return ScoreResponse(
            customer_id=request.customer_id, segment=str(row["segment"]),
            probability=float(row["probability"]), probabilities=probabilities,
            orders_used=int(row["orders_used"]), window_complete=bool(row["window_complete"]),
            model=self.name)


def _nothing_left(rules: Any) -> str:
    """Why no line of a request is a purchase, from the cleaning rules that were applied.

    An order id decides as much as its quantity (Online Retail's invoices: C536379 a
    cancellation, A563185 a bad-debt adjustment), which a client cannot guess from
    "returns" alone.
    """
    def prefixed(prefixes: tuple[str, ...]) -> str:
        return " or ".join(repr(p) for p in prefixes) + " followed by digits"

    left_out = []
    if rules.cancellations != "keep":
        left_out.append("returns (a negative quantity" + (
            f", or an order id of {prefixed(rules.cancellation_prefixes)}"
            if rules.cancellation_prefixes else "") + ")")
    if rules.bad_debt_adjustments and rules.adjustment_prefixes:
        left_out.append("bad-debt adjustments (an order id of "
                        f"{prefixed(rules.adjustment_prefixes)})")
    if rules.zero_quantity:
        left_out.append("zero quantities")
    if rules.non_positive_price:
        left_out.append("prices of 0 or less")
    if rules.non_product == "drop":
        left_out.append("non-product codes (postage, fees)")
    return ("no purchase line is left after cleaning, which leaves out " + ", ".join(left_out)
            + ". Fix: send the customer's purchases, with order ids not of that form")


#: The worker process's scorer (``AssignerScorer(process=True)``).
_WORKER: dict[str, Any] = {}


def _start_worker(trained: Any) -> None:
    """Build the worker process's scorer from the model (once, as the process starts).

    The worker ends with the server, even one killed without a word: a thread watches
    whether the parent process is still there.
    """
    import threading

    from segwise.predict import OrderScorer

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="segwise-parent-watch").start()
    _WORKER["scorer"] = OrderScorer(trained)


def _score_groups(work: list[tuple[Any, dt.datetime]], scorer: Any = None
                  ) -> list[list[dict[str, Any]]]:
    """Score each group's lines as of its time: the rows of each, as records."""
    scorer = scorer or _WORKER["scorer"]
    return [scorer.score_records(lines, as_of=as_of) for lines, as_of in work]


class ScoringUnavailableError(OverflowError):
    """Scoring cannot answer now, and can shortly: a 503, as a full queue is."""


def scoring_error(exc: Exception) -> tuple[int, str]:
    """Return the HTTP status and message of a scoring failure."""
    if isinstance(exc, OverflowError):
        return 503, str(exc)
    if isinstance(exc, SegwiseError):
        return 422, str(exc)
    raise exc


def scorers_for(store: Any, model: Path | None = None, *, process: bool = False
                ) -> list[Scorer]:
    """Return the scorers a server offers: an assigner from a file, else the store's newest.

    Parameters
    ----------
    store : Store, str or Path
        The store, searched for a stored assigner when ``model`` is None.
    model : Path, optional
        An assigner model file (``segwise assigner train -o``).
    process : bool, default=False
        Score in a worker process (see :class:`AssignerScorer`).

    Returns
    -------
    list of Scorer
        Empty when there is no model to serve: none given and none stored, or a stored one
        this segwise cannot load (an older format), with a :class:`SegwiseWarning` saying
        why.
    """
    import tempfile

    from segwise.exceptions import NotFoundError
    from segwise.predict import OrderScorer, TrainedAssigner
    from segwise.store import Store

    if model is None:
        db = store if isinstance(store, Store) else Store(store)
        try:
            run_id, _, artifact = db.model_artifact("assigner")
        except NotFoundError:
            return []
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "assigner.skops"
            path.write_bytes(artifact)
            try:
                trained = TrainedAssigner.load(path)
            except InputError as exc:
                # A store kept across an upgrade holds an assigner of an older format: the
                # server refused to start, naming a temporary file. The dashboard is served;
                # scoring is off, and the warning says which model and how to replace it.
                why = str(exc).removeprefix(f"{path}: ").split(". Fix: ")[0]
                warnings.warn(
                    f"{db.display_url}: POST /score is off: the assigner that run {run_id} "
                    f"stored cannot be used ({why}). Fix: train one into the store (segwise "
                    f"assigner train ORDERS -o assigner.skops --store {db.display_url}), or "
                    "serve with --model assigner.skops", SegwiseWarning, stacklevel=2)
                return []
    else:
        trained = TrainedAssigner.load(model)
    return [AssignerScorer(OrderScorer(trained), process=process)]
