"""The registry of claims (``registry.yml`` beside this module): what the book checks, how, and with
which expected outcome in each profile. Chapters read their criteria here; the scorecard reads items.

A claim's **outcome** is decided by its criterion alone: ``reproduced`` when it held, ``deviation``
when it held only under the change of setting the registry states for that profile, ``not reproduced``
when it did not hold, ``inconclusive`` when its statistic lies within its measured uncertainty of the
threshold (:mod:`eos_support.book.criteria`), ``check`` for a sanity check of the code (which fails the
chapter when it does not hold). Every claim that is not a check names, before the run, how its
uncertainty is measured (``uncertainty``) and what would decide it if it came out inconclusive
(``decide``).

A chapter fails when an outcome *contradicts* the registry's ``expected`` one (a verdict against the
opposite verdict: reproduced or a deviation against not reproduced). An outcome that is inconclusive
where a verdict was recorded, or the reverse, is the same result seen on another machine's trajectory
with the statistic at the edge of its uncertainty band: it is shown as differing from the record
(:func:`agreement`), and the robustness check (``eos-book robustness``) reports it, but it does not
fail the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..profiles import NAMES

OUTCOMES = ("reproduced", "deviation", "not reproduced", "inconclusive", "check")
VERDICTS = ("reproduced", "deviation", "not reproduced")
"""The outcomes that decide a claim one way or the other."""
KINDS = ("paper", "check", "beyond")
"""A claim's kinds: one of the paper's, a check of the code, a claim beyond the paper."""
REGISTRY = Path(__file__).with_name("registry.yml")


class RegistryError(ValueError):
    """The registry is malformed, or a chapter asked it for something it does not hold."""


@dataclass(frozen=True)
class Claim:
    """One claim: the criterion that decides it, its thresholds and the outcome expected per profile."""

    id: str
    item: str
    chapter: str
    claim: str
    criterion: str
    kind: str = "paper"
    thresholds: Mapping = field(default_factory=dict)
    expected: Mapping = field(default_factory=dict)
    deviation: Mapping = field(default_factory=dict)
    note: str = ""
    source: str = ""
    uncertainty: str = ""
    """How the statistic's uncertainty is measured, fixed before the run (every claim but a check)."""
    decide: str = ""
    """What would decide the claim if it came out inconclusive (more steps, epochs, samples or seeds)."""

    def outcome(self, holds: bool | None, profile: str) -> str:
        """The outcome of this claim in ``profile`` when its criterion ``holds`` (True, False, or None:
        within the uncertainty of its threshold); a check's outcome is ``check`` either way (a failed
        check fails its chapter: the code is wrong).
        """
        if self.kind == "check":
            return "check"
        if holds is None:
            return "inconclusive"
        if not holds:
            return "not reproduced"
        return "deviation" if self.deviation.get(profile) else "reproduced"


@dataclass(frozen=True)
class Item:
    """A paper item (or a claim beyond the paper) with where the paper says it and its claims."""

    item: str
    where: str
    quote: str
    chapter: str
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Registry:
    """Every item in the paper's order; ``claims`` by id."""

    items: tuple[Item, ...]

    @property
    def claims(self) -> dict[str, Claim]:
        """Every claim of the registry by its id."""
        return {c.id: c for item in self.items for c in item.claims}

    def claim(self, claim_id: str) -> Claim:
        """The claim ``claim_id``; a :class:`RegistryError` says to add it to the registry first."""
        try:
            return self.claims[claim_id]
        except KeyError:
            raise RegistryError(
                f"no claim {claim_id!r} in {REGISTRY.name}: add it there (criterion, thresholds, "
                "expected outcomes) before a chapter checks it"
            ) from None

    def for_chapter(self, chapter: str) -> list[Claim]:
        """The claims chapter ``chapter`` must check, in the registry's order."""
        return [c for item in self.items for c in item.claims if c.chapter == chapter]


def _claim(raw: Mapping, item: Mapping) -> Claim:
    known = {f.name for f in Claim.__dataclass_fields__.values()} - {"item"}  # a claim may name its own chapter
    unknown = set(raw) - known
    if unknown:
        raise RegistryError(f"claim {raw.get('id')!r}: unknown keys {sorted(unknown)}")
    claim = Claim(
        item=item["item"],
        chapter=raw.get("chapter", item["chapter"]),
        **{k: (v if v is not None else {}) for k, v in raw.items() if k != "chapter"},
    )
    _validate(claim)
    return claim


def _validate(claim: Claim) -> None:
    where = f"claim {claim.id!r} ({claim.item})"
    if claim.kind not in KINDS:
        raise RegistryError(f"{where}: kind must be one of {KINDS}, got {claim.kind!r}")
    if set(claim.expected) != set(NAMES):
        raise RegistryError(
            f"{where}: expected needs an outcome for each profile {NAMES}, got {dict(claim.expected)}"
        )
    for profile, outcome in claim.expected.items():
        if outcome not in OUTCOMES:
            raise RegistryError(f"{where}: expected outcome {outcome!r} in {profile!r} is not one of {OUTCOMES}")
        if (outcome == "check") != (claim.kind == "check"):
            raise RegistryError(f"{where}: a check expects 'check', and only a check does ({profile}: {outcome!r})")
        if outcome == "deviation" and not claim.deviation.get(profile):
            raise RegistryError(
                f"{where}: a deviation in {profile!r} needs the stated change (deviation: {{{profile}: …}})"
            )
    if claim.kind == "beyond" and not claim.source:
        raise RegistryError(f"{where}: a claim beyond the paper cites its source (source: …)")
    for name, value in claim.thresholds.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise RegistryError(f"{where}: threshold {name!r} must be a number, got {value!r}")


def parse(data) -> Registry:
    """A :class:`Registry` from the YAML's contents; a malformed entry raises :class:`RegistryError`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise RegistryError("the registry must be a mapping with a list 'items'")
    items = []
    for raw in data["items"]:
        fields = {k: raw.get(k, "") for k in ("item", "where", "quote", "chapter")}
        claims = tuple(_claim(c, raw) for c in raw.get("claims", []))
        items.append(Item(claims=claims, **fields))
    ids = [c.id for item in items for c in item.claims]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise RegistryError(f"claim ids must be unique; repeated: {repeated}")
    return Registry(tuple(items))


@lru_cache(maxsize=4)
def load(path=REGISTRY) -> Registry:
    """The registry (``registry.yml`` beside this module unless ``path`` is given)."""
    import yaml

    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def agreement(outcome: str, expected: str) -> str:
    """How an ``outcome`` stands to the ``expected`` one: ``"as expected"``; ``"contradicts"`` (a verdict
    against another verdict, or anything against an expected check); ``"undecided here"`` (inconclusive
    where a verdict was recorded); ``"decided here"`` (a verdict where inconclusive was recorded).
    """
    if outcome == expected:
        return "as expected"
    if outcome == "inconclusive" and expected in VERDICTS:
        return "undecided here"
    if expected == "inconclusive" and outcome in VERDICTS:
        return "decided here"
    return "contradicts"


def unregistered_uncertainty(claim: Claim) -> str | None:
    """What ``claim`` (not a check) lacks before it can be decided: how its uncertainty is measured and
    what would decide it if inconclusive, both written before the run; None when it has both.
    """
    missing = [name for name in ("uncertainty", "decide") if claim.kind != "check" and not getattr(claim, name)]
    if not missing:
        return None
    return f"claim {claim.id!r} has no {' and no '.join(missing)} in {REGISTRY.name}: write it there before the run"


def item_outcome(outcomes) -> str:
    """One outcome for a paper item from its claims' outcomes: ``not reproduced`` if any claim was not,
    else ``inconclusive`` if any was, else ``deviation`` if any was one, else ``reproduced`` if any paper
    claim was, else ``check``.
    """
    outcomes = list(outcomes)
    for outcome in ("not reproduced", "inconclusive", "deviation", "reproduced", "check"):
        if outcome in outcomes:
            return outcome
    return "not run"
