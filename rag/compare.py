"""Positions across groups: one question asked of every country (session, year, source, any
metadata key), a cited answer or a decline per group.

:meth:`rag.system.QASystem.compare` is the door; this module plans the table (the grouping key,
the groups and their filters, the question's wording per group: :mod:`rag.compare_wording`) and
runs it on top of the system's public ``ask``: each group is ``ask(question of the group,
filters=the filters + the group, query_vector=the one vector of the table)``, so a cell is
exactly the answer ``rag ask --filter`` gives for that group, cited sentences, quotes and spans
included. Retrieval per group is filtered inside both retrievers (FAISS id selector, SQL over the
group's documents), never a pooled top-k that one long speech could crowd.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from index.records import ChunkFilter, MetadataValue
from rag.compare_wording import (
    Mention,
    country_code,
    country_display,
    find_mentions,
    reword,
    topic_of,
)
from rag.errors import InvalidComparisonError
from rag.filters import BUILTIN_FILTER_KEYS, Filters, check_filters, coerce_filters
from rag.models import Answer

if TYPE_CHECKING:
    from rag.system import QASystem

GroupStatus = Literal["answered", "declined", "no_documents"]
#: Grouping keys that are no metadata key: the year of the document date, and the source.
YEAR_KEYS = ("date", "year")
BUILTIN_GROUP_KEYS = (*YEAR_KEYS, "source")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class ComparisonRow(BaseModel):
    """One group of a comparison: its answer (cited, as ``ask`` gives it), or a decline, or no
    documents."""

    group: str = Field(..., description="The group's value as text: USA, 78, 2023, a source.")
    label: str = Field(..., description="How the group reads: 'China (CHN)', 'session 78 (2023)'.")
    status: GroupStatus = Field(
        ...,
        description="answered: the group's documents answer; declined: they do not (the answer "
        "is an abstention with the closest passages); no_documents: no document of this group "
        "passes the filters (nothing was asked).",
    )
    question: str = Field(..., description="The question as asked of this group.")
    documents: int = Field(..., ge=0, description="The group's documents under the filters.")
    confidence: float = Field(
        0.0, description="The answer's probability that it answers (0 with no documents)."
    )
    answer: Answer | None = Field(
        None, description="The same Answer model as `ask` (null with no documents)."
    )


class Comparison(BaseModel):
    """A question asked of every group of a metadata key: one row per group."""

    question: str = Field(..., description="The question as given (trimmed).")
    by: str = Field(..., description="The grouping key: country, session, date (by year), …")
    filters: dict[str, Any] = Field(
        default_factory=dict, description="The filters every group shares (flat shape)."
    )
    groups: list[str] | None = Field(
        None, description="The groups asked for, as given; null: every group present."
    )
    rows: list[ComparisonRow] = Field(
        default_factory=list,
        description="Groups asked for: one row each, in the order given. All groups (groups "
        "null): the groups that answer, most confident first.",
    )
    declined: list[str] = Field(
        default_factory=list,
        description="With groups null: the groups whose documents do not answer (not in rows).",
    )
    groups_total: int = Field(0, ge=0, description="Groups asked (rows plus declined).")
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds: plan, encode, answer (all groups), total."
    )


@dataclass(frozen=True)
class Group:
    """A group to ask: its value, how it reads, its documents and the filters that select it."""

    value: MetadataValue
    text: str
    label: str
    documents: int
    year: str | None
    filters: Filters | None  # None: no document of the group passes the filters


@dataclass
class ComparePlan:
    """What :func:`plan_comparison` decided: the groups and the wording of the question."""

    question: str
    by: str
    grouping: str  # "year", "source" or "metadata"
    key: str | None
    groups: list[Group]
    asked: list[str] | None
    base: Filters | None
    flat_filters: dict[str, Any]
    mentions: list[Mention]
    country_like: bool
    k: int | None = None
    mode: Any = None
    wording: str = "neutral"
    planned_ms: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def neutral_question(self) -> str:
        """The question with the grouping dimension worded neutrally, or with the ``topic``
        wording its topic when it has one (the one vector's text)."""
        neutral = reword(self.question, self.mentions)
        if self.wording == "topic":
            return topic_of(neutral) or neutral
        return neutral

    def question_for(self, group: Group) -> str:
        """The question as asked of ``group`` (:mod:`rag.compare_wording`): the neutral wording,
        or with ``named`` wording the group's name, year or session put in."""
        if self.wording != "named":
            return self.neutral_question
        if not self.mentions:
            return self.question
        return reword(
            self.question,
            self.mentions,
            country=country_display(group.text) if self.country_like else None,
            year=group.year if self.grouping in ("year", "metadata") else None,
            session=group.text if self.by == "session" else None,
            value=group.text,
        )


def group_key(by: str, metadata_keys: Sequence[str]) -> tuple[str, str | None]:
    """(field, metadata key) of a grouping key; :class:`InvalidComparisonError` for a key that
    cannot group (unknown, or a key no document carries)."""
    by = by.strip()
    known = ", ".join([*BUILTIN_GROUP_KEYS, *sorted(metadata_keys)])
    if by in YEAR_KEYS:
        return "year", None
    if by == "source":
        return "source", None
    if not by or by in BUILTIN_FILTER_KEYS or not set(by) <= _KEY_CHARS or len(by) > 64:
        raise InvalidComparisonError(
            f"cannot group by {by!r}: not a grouping key",
            hint=f"group by one of: {known}",
        )
    if by not in metadata_keys:
        raise InvalidComparisonError(
            f"no document carries the key {by!r}",
            hint=f"group by a key documents in the index have: {known}",
        )
    return "metadata", by


def _label(field: str, key: str | None, value: MetadataValue, year: str | None) -> str:
    text = _text(value)
    if key is not None and (key == "country" or country_code(text) == text.upper()):
        name = (country_display(text) or "").removeprefix("the ")
        if name:
            return f"{name[:1].upper()}{name[1:]} ({text})"
    if key == "session" and year:
        return f"session {text} ({year})"
    return text


def _text(value: MetadataValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: A group of at most this many documents is selected by their ids (the same documents as the
#: filters plus the group's value, found by primary key: a filtered search 3x faster).
MAX_GROUP_IDS = 2000


def _group_filters(
    base: Filters | None, field: str, key: str | None, value: Any, doc_ids: Sequence[str]
) -> Filters:
    """The filters that select exactly the group's documents under ``base``: their ids, or for
    a group of more than :data:`MAX_GROUP_IDS` documents the filters plus the group's value."""
    if len(doc_ids) <= MAX_GROUP_IDS:
        return Filters(doc_ids=list(doc_ids))
    data = base.model_dump() if base is not None else {}
    if field == "year":
        year = str(value)
        since, until = data.get("date_from"), data.get("date_to")
        data["date_from"] = since if since and str(since).startswith(year) else year
        data["date_to"] = until if until and str(until).startswith(year) else year
    elif field == "source":
        data["source"] = value
    else:
        data["metadata"] = {**data.get("metadata", {}), str(key): value}
    return Filters(**data)


def _match(given: str, values: Mapping[str, MetadataValue], country_like: bool) -> str | None:
    """The index's value (as text) a group as given names: exactly, in any case, or (countries)
    by name."""
    text = given.strip()
    if text in values:
        return text
    lower = {v.lower(): v for v in values}
    if text.lower() in lower:
        return lower[text.lower()]
    if country_like:
        return country_code(text)  # a country named (China: CHN), in the index or not
    return None


def plan_comparison(
    system: QASystem,
    question: str,
    *,
    by: str,
    groups: Sequence[str] | None = None,
    filters: Filters | Mapping[str, Any] | None = None,
    k: int | None = None,
    mode: Any = None,
) -> ComparePlan:
    """Decide the groups (and check the input) before anything is asked: errors are raised here,
    so a streamed answer never breaks off on bad input. ``question`` is already validated."""
    t0 = time.perf_counter()
    flat = dict(filters) if isinstance(filters, Mapping) else {}
    base = coerce_filters(filters)
    if isinstance(filters, Filters):
        flat = filters.model_dump(exclude_defaults=True)
    options = system.filter_options()
    field_name, key = group_key(by, list(options.metadata))
    limit = system.settings.compare_max_groups
    asked = None if groups is None else list(dict.fromkeys(g.strip() for g in groups))
    if asked is not None and (not asked or not all(asked)):
        raise InvalidComparisonError(
            "no groups given" if not asked else "a group is empty",
            hint="name groups as values of the key (e.g. USA,CHN), or leave them out for all",
        )
    if asked is not None and len(asked) > limit:
        raise InvalidComparisonError(
            f"{len(asked)} groups asked; the limit is {limit}",
            hint="ask fewer groups (RAG_COMPARE_MAX_GROUPS sets the limit)",
        )
    with system.snapshot() as snap:
        if base is not None:
            check_filters(base, snap, options.metadata)
        present = snap.group_documents(field_name, (base or Filters()).to_chunk_filter(), key=key)
        everywhere = (
            snap.group_documents(field_name, ChunkFilter(), key=key) if asked is not None else []
        )
    members: dict[str, list[tuple[str, str | None]]] = {}
    typed: dict[str, MetadataValue] = {}
    for value, doc_id, date in present:
        members.setdefault(_text(value), []).append((doc_id, date))
        typed[_text(value)] = value
    values = {
        t: (typed[t], len(docs), min((d[:4] for _, d in docs if d), default=None))
        for t, docs in members.items()
    }
    all_values = {_text(v): v for v, _, _ in everywhere} or dict(typed)
    country_like = key == "country" or (
        bool(all_values) and all(country_code(t) == t.upper() for t in list(all_values)[:50])
    )
    chosen: list[Group] = []
    if asked is None:
        if len(values) > limit:
            raise InvalidComparisonError(
                f"{len(values)} values of {by!r} pass the filters; the limit is {limit}",
                hint="narrow the filters, name the groups, or raise RAG_COMPARE_MAX_GROUPS",
            )
        for text, (value, n, year) in values.items():
            chosen.append(Group(value, text, _label(field_name, key, value, year), n, year, None))
    else:
        for given in asked:
            text = _match(given, all_values, country_like) or given
            value, n, year = values.get(text, (all_values.get(text, text), 0, None))
            chosen.append(Group(value, text, _label(field_name, key, value, year), n, year, None))
    chosen = [
        Group(
            g.value,
            g.text,
            g.label,
            g.documents,
            g.year,
            _group_filters(base, field_name, key, g.value, [d for d, _ in members[g.text]])
            if g.documents
            else None,
        )
        for g in chosen
    ]
    mentions = find_mentions(
        question,
        "year" if field_name == "year" else by,
        country_like=country_like,
        values=list(all_values) if field_name != "year" and not country_like else (),
        country_fixed=base is not None and "country" in base.metadata,
    )
    return ComparePlan(
        question=question,
        by=by.strip(),
        grouping=field_name,
        key=key,
        groups=chosen,
        asked=asked,
        base=base,
        flat_filters=flat,
        mentions=mentions,
        country_like=country_like,
        k=k,
        mode=mode,
        wording=system.settings.compare_wording,
        planned_ms=round((time.perf_counter() - t0) * 1000, 2),
    )


def query_vector(system: QASystem, plan: ComparePlan) -> np.ndarray | None:
    """The table's one query vector: the neutral wording's (None for lexical retrieval)."""
    mode = plan.mode or system.settings.retrieval_mode
    if mode == "lexical" or not any(g.filters is not None for g in plan.groups):
        return None
    t0 = time.perf_counter()
    vector = system.encoder.encode_query(plan.neutral_question)
    plan.timings["encode"] = round((time.perf_counter() - t0) * 1000, 2)
    return vector


def ask_group(
    system: QASystem, plan: ComparePlan, group: Group, vector: np.ndarray | None
) -> ComparisonRow:
    """One row: the group's question asked with the group's filters, or no documents."""
    question = plan.question_for(group)
    if group.filters is None:
        return ComparisonRow(
            group=group.text,
            label=group.label,
            status="no_documents",
            question=question,
            documents=0,
        )
    answer = system.ask(
        question, k=plan.k, filters=group.filters, mode=plan.mode, query_vector=vector
    )
    return ComparisonRow(
        group=group.text,
        label=group.label,
        status="declined" if answer.abstained else "answered",
        question=question,
        documents=group.documents,
        confidence=answer.confidence,
        answer=answer,
    )


def run_rows(system: QASystem, plan: ComparePlan) -> Iterator[ComparisonRow]:
    """The rows in the plan's group order, as each is answered (``compare_workers`` at once)."""
    vector = query_vector(system, plan)
    t0 = time.perf_counter()
    workers = max(1, min(system.settings.compare_workers, len(plan.groups)))
    if workers == 1:
        for group in plan.groups:
            yield ask_group(system, plan, group, vector)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="compare") as pool:
            yield from pool.map(lambda g: ask_group(system, plan, g, vector), plan.groups)
    plan.timings["answer"] = round((time.perf_counter() - t0) * 1000, 2)


def assemble(plan: ComparePlan, rows: Sequence[ComparisonRow], total_ms: float) -> Comparison:
    """The table: rows as asked, or (all groups) the groups that answer, most confident first."""
    declined: list[str] = []
    kept = list(rows)
    if plan.asked is None:
        kept = sorted(
            (r for r in rows if r.status == "answered"), key=lambda r: (-r.confidence, r.group)
        )
        declined = [r.group for r in rows if r.status != "answered"]
    return Comparison(
        question=plan.question,
        by=plan.by,
        filters=plan.flat_filters,
        groups=plan.asked,
        rows=kept,
        declined=declined,
        groups_total=len(rows),
        timings_ms={
            "plan": plan.planned_ms,
            **plan.timings,
            "total": round(total_ms, 2),
        },
    )


def cell_system(system: QASystem) -> QASystem:
    """The system a table's cells are asked through: ``system`` itself, unless its answerer
    reads with the trained reader and ``compare_reader`` is off — then the same index and
    encoder answering with the feature scorer, which the wording rule was chosen with."""
    scorer = getattr(system.answerer, "scorer", None)
    if system.settings.compare_reader or getattr(scorer, "reader", None) is None:
        return system
    return system.with_settings(system.settings.model_copy(update={"reader": False}))


def compare(
    system: QASystem,
    question: str,
    *,
    by: str,
    groups: Sequence[str] | None = None,
    filters: Filters | Mapping[str, Any] | None = None,
    k: int | None = None,
    mode: Any = None,
    on_row: Callable[[ComparisonRow, int, int], None] | None = None,
) -> Comparison:
    """Plan, ask every group, assemble (``on_row(row, done, total)`` after each group)."""
    t0 = time.perf_counter()
    system = cell_system(system)
    plan = plan_comparison(system, question, by=by, groups=groups, filters=filters, k=k, mode=mode)
    rows: list[ComparisonRow] = []
    for row in run_rows(system, plan):
        rows.append(row)
        if on_row is not None:
            on_row(row, len(rows), len(plan.groups))
    return assemble(plan, rows, (time.perf_counter() - t0) * 1000)
