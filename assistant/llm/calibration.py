"""What a model's word is worth, measured: its stated confidence mapped to the accuracy it
reached on a labelled eval run, and whether its urgency and its answers on mail local
triage gives up on were better than local triage's.

A model's own confidence is not a probability (a 270M model says 0.5 or 1.0 about every
answer, right or wrong). Until a model has a calibration here, `triage.combine` counts its
answers as low confidence: it can disagree, visibly, but it cannot override. Calibrations
are kept per model name in a small JSON file, as the response-format ladder is
(`llm.structured.CapabilityMemory`), and fitted by `assistant calibrate RESULTS.json` from
an `assistant eval --backend openai --json RESULTS.json` run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# Fewer labelled answers than this say too little about a model to trust it anywhere.
MIN_ROWS = 30
# ... and fewer than this where local triage abstains, to let the model lift one out.
MIN_MANUAL_ROWS = 10
# Stated-confidence bins, coarse on purpose: a few hundred eval rows fill them.
BIN_EDGES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
# Accuracy per bin is shrunk towards 0.5 as if by this many extra answers, half of them
# wrong: a bin of 3 right answers is not "always right".
PRIOR_WEIGHT = 2.0
# A model's "urgent" jumps the queue: it must be right at least this often, whatever local
# triage's record (which may be unmeasured on a set where local triage never said urgent).
URGENT_PRECISION_FLOOR = 0.6


@dataclass(frozen=True)
class Answer:
    """One labelled LLM answer from an eval run, with what local triage said of the same mail."""

    stated: float
    correct: bool
    llm_urgent: bool
    urgent: bool | None  # the label; None: the row has no urgency label
    local_correct: bool
    local_urgent: bool
    local_abstained: bool
    llm_escalation: bool = False
    escalation: bool | None = None  # the label; None: the row has no escalation label
    local_escalation: bool = False


@dataclass(frozen=True)
class Calibration:
    """A fitted model: `confidence()` maps what it says to how often it is right."""

    model: str
    rows: int
    # (lower edge, upper edge of stated confidence, accuracy reached): ascending, accuracy
    # non-decreasing; a stated confidence below every bin was never seen and earns nothing.
    bins: tuple[tuple[float, float, float], ...]
    accuracy: float
    local_accuracy: float
    urgent_precision: float | None  # of the model's "urgent", on labelled rows
    local_urgent_precision: float | None
    manual_rows: int  # rows local triage gave to manual triage
    manual_accuracy: float | None  # the model's accuracy on those
    local_manual_accuracy: float | None  # local triage's own guess on those
    escalation_precision: float | None = None  # of the model's escalations, on labelled rows
    local_escalation_precision: float | None = None
    dataset: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def confidence(self, stated: float) -> float:
        """The accuracy this model reached when it said `stated`: that of the highest bin
        starting at or below it (a gap between bins takes the lower one's); 0 below them all."""
        reached = 0.0
        for lower, _upper, accuracy in self.bins:
            if stated >= lower:
                reached = accuracy
        return reached

    @property
    def trusted(self) -> bool:
        return self.rows >= MIN_ROWS

    @property
    def lifts_manual(self) -> bool:
        """On the mail local triage gave to manual triage, the model was right more often
        than local triage's own best guess: only then may it take such mail out of it."""
        return (
            self.trusted
            and self.manual_rows >= MIN_MANUAL_ROWS
            and self.manual_accuracy is not None
            and self.manual_accuracy > (self.local_manual_accuracy or 0.0)
        )

    @property
    def trusts_urgency(self) -> bool:
        """Its "urgent" is at least as precise as local triage's (§3 rules), and precise."""
        if not self.trusted or self.urgent_precision is None:
            return False
        bar = max(URGENT_PRECISION_FLOOR, self.local_urgent_precision or 0.0)
        return self.urgent_precision >= bar

    @property
    def trusts_escalation(self) -> bool:
        """Its escalations (§4) are at least as precise as local triage's, and precise."""
        if not self.trusted or self.escalation_precision is None:
            return False
        bar = max(URGENT_PRECISION_FLOOR, self.local_escalation_precision or 0.0)
        return self.escalation_precision >= bar

    def summary(self) -> str:
        urgent = "n/a" if self.urgent_precision is None else f"{self.urgent_precision:.2f}"
        local_urgent = (
            "n/a" if self.local_urgent_precision is None else f"{self.local_urgent_precision:.2f}"
        )
        return (
            f"{self.model}: {self.rows} rows, accuracy {self.accuracy:.3f} (local "
            f"{self.local_accuracy:.3f}); urgent precision {urgent} (local {local_urgent}); "
            f"stated→actual {', '.join(f'{lo:.2f}–{hi:.2f}→{a:.2f}' for lo, hi, a in self.bins)}; "
            f"may lift manual triage: {'yes' if self.lifts_manual else 'no'}; "
            f"urgency trusted: {'yes' if self.trusts_urgency else 'no'}; "
            f"escalation trusted: {'yes' if self.trusts_escalation else 'no'}"
        )


def fit(model: str, answers: Iterable[Answer], dataset: str = "") -> Calibration:
    """Binned accuracy over stated confidence, shrunk and made non-decreasing (pooling
    adjacent bins that would go down), with the model's urgency and manual-triage record."""
    answers = list(answers)
    groups: list[list[Answer]] = [[] for _ in BIN_EDGES[1:]]
    for answer in answers:
        stated = min(1.0, max(0.0, answer.stated))
        index = next(i for i, upper in enumerate(BIN_EDGES[1:]) if stated <= upper)
        groups[index].append(answer)
    pooled: list[tuple[float, float, float, float]] = []  # (lower, upper, right, count)
    for lower, upper, group in zip(BIN_EDGES, BIN_EDGES[1:], groups):
        if not group:
            continue
        pooled.append((lower, upper, sum(a.correct for a in group), len(group)))
        while len(pooled) > 1 and _rate(pooled[-1]) < _rate(pooled[-2]):
            last, before = pooled.pop(), pooled.pop()
            pooled.append((before[0], last[1], before[2] + last[2], before[3] + last[3]))
    bins = tuple((pool[0], pool[1], round(_rate(pool), 4)) for pool in pooled)
    manual = [a for a in answers if a.local_abstained]
    labelled = [a for a in answers if a.urgent is not None]
    escalations = [a for a in answers if a.escalation is not None]
    return Calibration(
        model=model,
        rows=len(answers),
        bins=bins,
        accuracy=_share(a.correct for a in answers) or 0.0,
        local_accuracy=_share(a.local_correct for a in answers) or 0.0,
        urgent_precision=_share(bool(a.urgent) for a in labelled if a.llm_urgent),
        local_urgent_precision=_share(bool(a.urgent) for a in labelled if a.local_urgent),
        manual_rows=len(manual),
        manual_accuracy=_share(a.correct for a in manual),
        local_manual_accuracy=_share(a.local_correct for a in manual),
        escalation_precision=_share(bool(a.escalation) for a in escalations if a.llm_escalation),
        local_escalation_precision=_share(
            bool(a.escalation) for a in escalations if a.local_escalation
        ),
        dataset=dataset,
    )


def _rate(pool: tuple[float, float, float, float]) -> float:
    _, _, right, count = pool
    return (right + PRIOR_WEIGHT / 2) / (count + PRIOR_WEIGHT)


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


class CalibrationMemory:
    """Calibrations by model name, in a small JSON file; an unreadable file is ignored
    (every model then counts as uncalibrated, the safe side)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._fitted: dict[str, Calibration] = {}
        if path and path.exists():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(stored, dict):
                    raise TypeError(f"expected an object, found {type(stored).__name__}")
                self._fitted = {name: _from_json(value) for name, value in stored.items()}
            except (ValueError, OSError, TypeError, KeyError, AttributeError) as error:
                log.warning("ignoring unreadable calibration file %s: %s", path, error)
                self._fitted = {}

    def get(self, model: str | None) -> Calibration | None:
        return self._fitted.get(model) if model else None

    def remember(self, calibration: Calibration) -> None:
        """Raises OSError when the file cannot be written (the caller says where)."""
        self._fitted[calibration.model] = calibration
        self._write()

    def forget(self, model: str) -> bool:
        if self._fitted.pop(model, None) is None:
            return False
        self._write()
        return True

    def _write(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stored = {name: asdict(value) for name, value in self._fitted.items()}
            self.path.write_text(json.dumps(stored, indent=1), encoding="utf-8")

    def all(self) -> list[Calibration]:
        return list(self._fitted.values())


def _from_json(value: dict) -> Calibration:
    """A stored calibration, its numbers checked: a hand-edited or foreign file must not
    turn into a confident model."""
    bins = tuple((float(lo), float(hi), float(a)) for lo, hi, a in value["bins"])
    if any(not (0.0 <= a <= 1.0) for *_, a in bins):  # NaN fails this too
        raise ValueError("an accuracy outside 0..1")
    fields = {name: value[name] for name in Calibration.__dataclass_fields__ if name in value}
    calibration = Calibration(**{**fields, "bins": bins, "rows": int(value["rows"])})
    for name in ("accuracy", "local_accuracy"):
        if not 0.0 <= float(getattr(calibration, name)) <= 1.0:
            raise ValueError(f"{name} outside 0..1")
    return calibration
