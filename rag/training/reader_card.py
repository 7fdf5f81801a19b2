"""The reader's model card, rendered from its training report (``reader-report.json``) by
``rag train-reader``: every number in it comes from the report, none is written by hand."""

from __future__ import annotations

from typing import Any

CARD_FILE = "READER_CARD.md"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def reader_card(report: dict[str, Any], spec: dict[str, Any]) -> str:
    """Markdown for the reader in ``report`` (chosen settings, curves) exported as ``spec``."""
    chosen = report["chosen"]
    recipe = spec.get("recipe", {})
    curve = report.get("learning_curve", [])
    lines = [
        "# Reader — model card",
        "",
        "**What it does.** Reads the question together with each of the feature scorer's "
        f"{chosen['top']} best candidate sentences, each shown after its document's context "
        "(title, the country its `country` code names, its year), and scores them in one "
        "softmax with a learned *no-answer* slot: P(answer) is one minus that slot's share. "
        f"The answerer declines under P(answer) {chosen['threshold']} and cites a further "
        f"sentence whose share reaches {chosen['extra_sentence_ratio']} of the best one's. "
        "Opt-in (`RAG_READER=true`) while it is "
        f"{'on' if chosen.get('default') else 'off'} by default.",
        "",
        f"**Model.** all-MiniLM-L6-v2 cut to its first {spec.get('layers')} layers, mean "
        f"pooling, one linear unit; {spec.get('max_length')} tokens; int8 ONNX "
        f"(`reader/model.onnx`), run by ONNX Runtime without torch. No-answer logit "
        f"{spec.get('null_logit')}. Input code fingerprint `{spec.get('input_fingerprint')}` "
        "(checked at load).",
        "",
        "**Data.** Groups built by `QASystem.evidence` — the step `ask()` takes — over the "
        "article plus both corpora (policy-qa `train.jsonl`; negatives: the product's own "
        "retrieval and the same country's other years) and over squad-train's paragraphs "
        "(SQuAD questions of the training and calibration articles, and their paraphrases); "
        "unanswerable questions and answer-removed copies target the no-answer slot. "
        "Validation: policy-qa `validation.jsonl` and the SQuAD validation articles.",
        "",
        "**Training.** Listwise negative log-likelihood over [null, candidates]; "
        f"{recipe.get('groups_per_batch')} groups a step ({recipe.get('policy_per_batch')} "
        f"policy-qa), {recipe.get('candidates_per_group')} candidates a group, learning rate "
        f"{recipe.get('learning_rate')} (head {recipe.get('head_learning_rate')}), "
        f"{recipe.get('steps')} steps, seed {recipe.get('seed')}, on two CPU cores shared with "
        f"other work; best validation step {spec.get('step')}.",
        "",
        "**Learning curve** (fixed validation sample; top-1: a gold sentence ranked first among "
        "answerable groups whose gold is in the top candidates; AUC of P(answer), answerable vs "
        "unanswerable; decision: best share of right answer-or-decline decisions):",
        "",
        *_table(
            ["step", "top-1", "AUC", "decision", "seconds"],
            [
                [
                    f"{int(c['step'])}",
                    f"{c['top1']:.3f}",
                    f"{c['auc']:.3f}",
                    f"{c['decision']:.3f}",
                    f"{c['seconds']:.0f}",
                ]
                for c in curve
            ],
        ),
        "",
        "**Threshold** (every validation group, as the exported int8 model reads it, its "
        "candidates from the evidence step with the default retrieval settings, metadata "
        "channels included; right: answered with a gold sentence, or declined when "
        "unanswerable):",
        "",
        *_table(
            [
                "threshold",
                "policy-qa right",
                "SQuAD right",
                "mean",
                "policy answerable declined",
                "policy unanswerable declined",
            ],
            [
                [
                    f"{r['threshold']}",
                    f"{r['policy_right']:.3f}",
                    f"{r['squad_right']:.3f}",
                    f"{r['mean']:.3f}",
                    f"{r['policy_answerable_declined']:.3f}",
                    f"{r['policy_unanswerable_declined']:.3f}",
                ]
                for r in report["threshold_curve"][::3]
            ],
        ),
        "",
        "**Further sentences** (mean F1 of the cited sentences against the gold ones):",
        "",
        *_table(
            ["ratio", "mean F1"],
            [[f"{r['ratio']}", f"{r['mean_f1']:.3f}"] for r in report["ratio_curve"]],
        ),
        "",
        "End-to-end figures (`rag eval-policy-qa`, the article's set) are in "
        "[docs/answer-model.md](../../../docs/answer-model.md#the-trained-reader).",
        "",
    ]
    return "\n".join(lines)
