"""The training report's summaries of the fitted stages, and the model card (``MODEL_CARD.md``)
rendered from the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rag.answering.features import BASE_FEATURES
from rag.training.fitting import AnswerabilityResult, Fitted, StageResult
from rag.training.sentence_choice import ratio_card


def answerability_report(results: Sequence[AnswerabilityResult]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "auc_by_kind": {k: round(v, 4) for k, v in r.auc_by_kind.items()},
            "threshold": asdict(r.point),
        }
        for r in results
    ]


def stages_report(results: Sequence[StageResult]) -> list[dict[str, Any]]:
    return [{"top1": round(r.top1, 4), "auc": round(r.auc, 4)} for r in results]


def sentence_scorer(stages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The sentence scorer's validation figures among the report's stages (a report from before
    the stacked cross-encoder stage was removed also lists that stage at each depth it tried)."""
    return next(r for r in stages if not r.get("rerank_top"))


def lexical_summary(fitted: Fitted) -> dict[str, Any]:
    """What the report keeps of the lexical-only variant."""
    return {
        "stages": stages_report([fitted.stage]),
        "answerability": answerability_report(fitted.answerability_results),
        "chosen": {
            "answerability": fitted.answerability is not None,
            "threshold": asdict(fitted.point),
            "extra_sentence_ratio": fitted.sentences.chosen().ratio if fitted.sentences else None,
        },
    }


KIND_NAMES = {
    "asked": "SQuAD 2.0 unanswerable",
    "article_removed": "article removed",
    "answer_removed": "answer removed",
}


def model_card(report: dict[str, Any]) -> str:
    """The model card shipped beside the weights, from the training report."""
    split = report["split"]
    chosen = report["chosen"]
    point = chosen["threshold"]
    kinds = [k for k in KIND_NAMES if k in point.get("declined_by_kind", {})]
    stage = sentence_scorer(report["stages"])
    shapes = shapes_card(report.get("by_shape") or {}, kinds)
    fusion, by_k = fusion_card(report.get("fusion", []), chosen)
    answerability = "\n".join(
        f"| {a['name']} | "
        + " | ".join(f"{a['auc_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + f" | {a['threshold']['threshold']} | {a['threshold']['answerable_declined']:.3f} | "
        + " | ".join(f"{a['threshold']['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for a in report.get("answerability", [])
    )
    kind_heads = " | ".join(KIND_NAMES[k] for k in kinds)
    kind_rule = "|---" * len(kinds)
    curve_rows = "\n".join(
        f"| {p['threshold']:.2f} | {p['answered_correct']:.3f} | {p['answerable_declined']:.3f} | "
        + " | ".join(f"{p['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for p in report["threshold_curve"]
        if round(p["threshold"] * 1000) % 50 == 0
        or (p["threshold"] <= 0.1 and round(p["threshold"] * 1000) % 10 == 0)
    )
    q = {
        name: sum(v.values()) if isinstance(v, dict) else v
        for name, v in report["questions"].items()
    }
    declined = ", ".join(
        f"{point['declined_by_kind'].get(k, 0.0):.3f} of {KIND_NAMES[k]}" for k in kinds
    )
    decided = (
        "the answerability model"
        if chosen.get("answerability")
        else "the best sentence's probability"
    )
    lexical = lexical_card(report.get("lexical"), kinds)
    overlap = overlap_card(report.get("by_overlap") or [])
    further = ratio_card(report.get("further_sentences"))
    return f"""# Answer-sentence scorer — model card

**What it does.** Gives each candidate sentence of the retrieved passages a probability that it
answers the question, and the question a probability that its best sentence answers it at all.
The answerer cites the best sentence(s), or abstains when that second probability is under the
threshold below.

**Parts.**
1. Sentence scorer — logistic regression over {len(BASE_FEATURES)} general features and their
   pairwise products (`rag/answering/features.py`: bi-encoder cosine of the sentence and of its
   passage, with ranks and gaps; the passage's fused, dense and lexical ranks; content-word overlap
   weighted by rarity among the candidates; overlap in the neighbouring sentences; coverage of the
   question's names; question dates/numbers missing from the evidence; expected answer type found
   or missing; position; length; the length of the sentence's document). No word lists of
   places, people or topics.
2. Answerability model (when chosen) — logistic regression over the best sentence's logit, its
   lead over the runner-up and its feature row; its probability is what the threshold is
   compared with.

The optional trained reader (`RAG_READER=true`) has a card of its own, `READER_CARD.md`.

**Data.** `../shared/benchmarks/squad-train` (SQuAD 1.1/2.0 dev pages, Wikipedia, CC BY-SA 4.0;
disjoint from `squad-politics`). Each question was run through the product's own hybrid
retrieval (top 5 passages) in each of two indexes of the same 34 articles: the 1,537 paragraphs
each a document (as SQuAD comes), and each article one long document of its paragraphs in order
(chunks cross paragraph boundaries, as in a speech or a cable); every sentence of those passages
is a candidate, and every model is fitted on both. Positive: a sentence of the gold paragraph
that contains a gold answer string; negative: every other candidate (same paragraph, same
article, BM25 and dense neighbours) and every candidate of an unanswerable question; sentences
of other paragraphs that contain the answer string are left out. Unanswerable questions come in
three kinds: SQuAD 2.0's own (adversarial rewrites), each question asked of the collection
**without its article** (the collection never covers the topic), and each answerable question
with **its answer sentences removed** from the evidence (the topic is there, the answer is not).

**Splits (whole articles).** train {len(split["train"])} articles ({q["train"]} question
variants) — the sentence scorer and the answerability model; calibration
{len(split["calibration"])} articles ({q["calibration"]}) — the answerability model, with the
training articles; validation {len(split["validation"])} articles ({q["validation"]}) — the
fusion weight, the models' choices and the threshold. Validation
articles: {", ".join(split["validation"])}. The article's evaluation set and `squad-politics`
were never used to choose anything.

**Retrieval fusion** (validation, answerable questions, the paragraph index; gold paragraph in
the top 1 / top 5):
chosen dense weight **{chosen.get("dense_weight", "–")}**, dense scoring
**{chosen.get("dense_scoring", "chunk")}** (the order of FAISS's candidates: `chunk` by each
chunk's own vector, `sentence` by its best sentence's) and RRF constant
**{chosen.get("rrf_k", 60)}** — chosen for recall, since the answerer re-reads every sentence
of the top passages: among the points whose hit@5 lies within one standard error of the best,
the best hit@1. At the chosen constant:

| dense scoring | dense weight | hit@1 | hit@5 |
|---|---|---|---|
{fusion}

The best of each RRF constant (over both scorings and every weight):

| RRF constant | dense scoring | dense weight | hit@1 | hit@5 |
|---|---|---|---|---|
{by_k}

**Sentence scorer, validation:** top-1 {stage["top1"]:.3f} (the best sentence is a gold
sentence, among answerable questions whose gold sentence was retrieved), AUC {stage["auc"]:.3f}
(best probability, answerable vs SQuAD unanswerable).

**Whether to answer, validation** (AUC: answerable questions answered with a gold sentence vs
each kind of unanswerable question; then, at the threshold rule below, the share of answerable
questions declined and of each kind of unanswerable one declined):

| decided by | AUC {kind_heads} | threshold | answerable declined | declined {kind_heads} |
|---{kind_rule}|---|---{kind_rule}|
{answerability}

**Chosen:** {decided},
threshold **{point["threshold"]}** — the rule: decline as many unanswerable questions as possible
while declining at most 10% of answerable ones. At it, on validation:
{point["answered_correct"]:.3f} of answerable questions answered with a gold sentence,
{point["answerable_declined"]:.3f} of answerable declined; declined: {declined}.
{shapes}
{lexical}
{overlap}{further}
Abstention on validation, by threshold:

| threshold | answered right | answerable declined | {kind_heads} |
|---|---|---{kind_rule}|
{curve_rows}

**Limits.** SQuAD 2.0's unanswerable questions are adversarial rewrites of answerable ones
("What did X *not* do…"); the features separate them little better than chance (AUC above), so
most are answered. Questions about what the collection never covers, and questions whose answer
sentence is missing, are declined far more reliably. Paraphrases that share few words with the
answer lean on the bi-encoder's cosine alone: the lowest overlap quartile above is where the
scorer is weakest. English only: the bi-encoder is an English model.
"""


def fusion_card(fusion: Sequence[dict[str, Any]], chosen: dict[str, Any]) -> tuple[str, str]:
    """The fusion curve at the chosen RRF constant, and the best point of each constant."""

    def k_of(f: dict[str, Any]) -> int:
        return int(f.get("rrf_k", 60))  # reports from before the constant was compared: 60

    def row(f: dict[str, Any]) -> str:
        return (
            f"| {f.get('dense_scoring', 'chunk')} | {f['dense_weight']} | {f['hit_at_1']:.3f} | "
            f"{f['hit_at_5']:.3f} |"
        )

    at_k = "\n".join(row(f) for f in fusion if k_of(f) == k_of(chosen))
    by_k = "\n".join(
        f"| {k} "
        + row(
            max((f for f in fusion if k_of(f) == k), key=lambda f: (f["hit_at_5"], f["hit_at_1"]))
        )
        for k in sorted({k_of(f) for f in fusion})
    )
    return at_k, by_k


def shapes_card(by_shape: dict[str, dict[str, Any]], kinds: Sequence[str]) -> str:
    """The chosen model's validation figures on each shape of the collection, at its threshold."""
    if not by_shape:
        return ""
    rows = "\n".join(
        f"| {shape} | {s['answered_right']:.3f} | {s['answerable_declined']:.3f} | "
        + " | ".join(f"{s['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for shape, s in by_shape.items()
    )
    return f"""
The same, on each shape of the validation collection:

| shape | answered right | answerable declined | {" | ".join(KIND_NAMES[k] for k in kinds)} |
|---|---|---|{"---|" * len(kinds)}
{rows}
"""


def overlap_card(quartiles: Sequence[dict[str, Any]]) -> str:
    """The model card's table of validation figures by question-answer word overlap."""
    if not quartiles:
        return ""
    rows = "\n".join(
        f"| Q{q['quartile']} | {q['overlap_from']:.2f}–{q['overlap_to']:.2f} | {q['questions']} | "
        f"{q['best_right']:.3f} | {q['answered_right']:.3f} | {q['declined']:.3f} |"
        for q in quartiles
    )
    return f"""**By wording shared with the answer** (validation, answerable SQuAD questions whose
gold sentence was retrieved, in quartiles of the share of the question's content words that the
gold sentence holds; at the chosen threshold). Paraphrased questions sit in the first row:

| quartile | words shared | questions | best sentence right | answered right | declined |
|---|---|---|---|---|---|
{rows}
"""


def lexical_card(lexical: dict[str, Any] | None, kinds: Sequence[str]) -> str:
    """The model card's paragraph on the lexical-only variant."""
    if not lexical:
        return ""
    top = sentence_scorer(lexical["stages"])
    point = lexical["chosen"]["threshold"]
    declined = ", ".join(
        f"{point['declined_by_kind'].get(k, 0.0):.3f} of {KIND_NAMES[k]}" for k in kinds
    )
    options = "; ".join(
        f"{a['name']}: threshold {a['threshold']['threshold']}, declined "
        + ", ".join(f"{a['threshold']['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        for a in lexical["answerability"]
    )
    decided = (
        "the answerability model"
        if lexical["chosen"]["answerability"]
        else "the best sentence's probability"
    )
    chosen_ratio = lexical["chosen"].get("extra_sentence_ratio")
    ratio = (
        f" Further answer sentences: ratio **{chosen_ratio}** (chosen as below)."
        if chosen_ratio is not None
        else ""
    )
    return f"""**Lexical-only variant.** A question the embedding model cannot read (another
language than English, or `mode=lexical`) is retrieved by BM25 alone and has no similarity
features, so the same stages are fitted a second time on candidates retrieved that way, and used
for such questions. On validation: top-1 {top["top1"]:.3f}, AUC {top["auc"]:.3f}; {options}. Chosen:
{decided}, threshold **{point["threshold"]}** — {point["answered_correct"]:.3f} of answerable
questions answered with a gold sentence, {point["answerable_declined"]:.3f} declined; declined:
{declined}.{ratio}
"""
