"""Writes eval/data/compare.v1.jsonl: the compare set's questions, with the gold of each cell
looked up in ../shared/corpora/un-general-debate-2020-2024.jsonl: a statement that names the
topic (``answer`` pattern) is an answer cell (its doc_id, and the topic words it uses: one
must be in the answer); a statement that names nothing near it (``broad`` pattern) must
decline; anything between is left out.

Run: python scripts/make_compare_set.py eval/data/compare.v1.jsonl

With ``--held-out`` it writes the held-out set instead (eval/data/compare.test.v1.jsonl): other
topics and other countries than compare.v1's, built the same way, never used to choose a
setting — it only reports:
python scripts/make_compare_set.py eval/data/compare.test.v1.jsonl --held-out
"""

import json
import re
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpora/un-general-debate-2020-2024.jsonl"
rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
by = {(r["country"], r["session"]): r for r in rows}
YEAR = {75: 2020, 76: 2021, 77: 2022, 78: 2023, 79: 2024}
Q = []


def q(qid, question, by_key, filters, groups, answer, broad=None, **extra):
    Q.append(
        dict(
            id=qid,
            question=question,
            by=by_key,
            filters=filters,
            groups=groups,
            answer=answer,
            broad=broad or answer,
            **extra,
        )
    )


S = [75, 76, 77, 78, 79]
q(
    "c01",
    "What did Bangladesh say about the Rohingya crisis in Myanmar?",
    "country",
    {"session": 78},
    ["BGD", "MYS", "IDN", "CAN", "BRA", "DEU", "ARG"],
    r"Myanmar|Rohingya",
    r"Myanmar|Rohingya|Burma",
)
q(
    "c02",
    "What did Pakistan say about Afghanistan?",
    "country",
    {"session": 78},
    ["PAK", "IRN", "UZB", "QAT", "ARG", "JPN", "BRA"],
    r"Afghan",
)
q(
    "c03",
    "What did the United States say about Haiti?",
    "country",
    {"session": 78},
    ["USA", "CAN", "DOM", "JAM", "CHN", "IND", "DEU"],
    r"Haiti",
)
q(
    "c04",
    "What did Japan say about artificial intelligence?",
    "country",
    {"session": 78},
    ["JPN", "USA", "GBR", "KOR", "BRA", "EGY", "FRA"],
    r"artificial intelligence",
    r"artificial intelligence|\bAI\b|digital",
)
q(
    "c05",
    "What did Kazakhstan say about nuclear weapons?",
    "country",
    {"session": 78},
    ["KAZ", "JPN", "NZL", "IRL", "DEU", "IND", "FRA"],
    r"nuclear",
)
q(
    "c06",
    "What did Germany say about reform of the Security Council?",
    "country",
    {"session": 78},
    ["DEU", "ITA", "ZAF", "PAK", "BRA", "CHN", "ARG"],
    r"Security Council reform|reform of the Security Council|reform the Security Council|Security Council must be reformed|reforming the Security Council|Council reform",  # noqa: E501
    r"Security Council",
)
q(
    "c07",
    "What did Qatar say about the Palestinian question?",
    "country",
    {"session": 78},
    ["QAT", "JOR", "EGY", "TUR", "JPN", "DEU", "KOR"],
    r"Palestin|Gaza",
    r"Palestin|Gaza|Israel",
)
q(
    "c08",
    "What did Fiji say about climate change?",
    "country",
    {"session": 78},
    ["FJI", "TUV", "MDV", "ARM", "BIH", "SRB", "MDA"],
    r"climate",
    r"climate|global warming|warming",
)
q(
    "c09",
    "What did Cuba say about the economic blockade?",
    "country",
    {"session": 78},
    ["CUB", "VEN", "NIC", "BOL", "JPN", "DEU", "KOR"],
    r"blockade|embargo",
    r"blockade|embargo|sanction",
)
q(
    "c10",
    "What did Ethiopia say about the Grand Ethiopian Renaissance Dam?",
    "country",
    {"session": 76},
    ["ETH", "EGY", "SDN", "FRA", "JPN", "BRA"],
    r"Renaissance Dam|GERD",
    r"Renaissance|GERD|Nile|dam\b",
)
q(
    "c11",
    "What did Armenia say about Nagorno-Karabakh?",
    "country",
    {"session": 75},
    ["ARM", "AZE", "TUR", "JPN", "BRA", "DEU"],
    r"Karabakh",
    r"Karabakh|Armenia|Azerbaijan",
)
q(
    "c12",
    "What did Serbia say about Kosovo?",
    "country",
    {"session": 77},
    ["SRB", "ALB", "JPN", "BRA", "IND", "CHN"],
    r"Kosovo|Pristina",
    r"Kosovo|Pristina|Balkan",
)
q(
    "c13",
    "What did Ukraine say about the grain initiative and food exports?",
    "country",
    {"session": 77},
    ["UKR", "TUR", "EGY", "FJI", "NRU", "BTN"],
    r"grain",
    r"grain|wheat|food export|Black Sea",
)
q(
    "c14",
    "What did Saudi Arabia say about Yemen?",
    "country",
    {"session": 76},
    ["SAU", "ARE", "IRN", "OMN", "BRA", "JPN", "FJI"],
    r"Yemen",
    r"Yemen|Houthi",
)
q(
    "c15",
    "What did Colombia say about drug trafficking?",
    "country",
    {"session": 77},
    ["COL", "MEX", "ECU", "FJI", "NOR", "JPN"],
    r"drug|narco",
    r"drug|narco|cocaine",
)
# by session
q(
    "s01",
    "What did the United States say about artificial intelligence?",
    "session",
    {"country": "USA"},
    ["75", "76", "77", "78", "79"],
    r"artificial intelligence",
    r"artificial intelligence|\bAI\b",
)
q(
    "s02",
    "What did Germany say about the COVID-19 pandemic?",
    "session",
    {"country": "DEU"},
    ["75", "76", "77", "78", "79"],
    r"COVID|pandemic|coronavirus",
    r"COVID|pandemic|coronavirus|virus",
)
q(
    "s03",
    "What did France say about Afghanistan?",
    "session",
    {"country": "FRA"},
    ["75", "76", "77", "78", "79"],
    r"Afghan",
)
q(
    "s04",
    "What did Japan say about Ukraine?",
    "session",
    {"country": "JPN"},
    ["75", "76", "77", "78", "79"],
    r"Ukrain",
    r"Ukrain|Russia",
)
q(
    "s05",
    "What did Bangladesh say about the Rohingya?",
    "session",
    {"country": "BGD"},
    ["75", "76", "77", "78", "79"],
    r"Rohingya|Myanmar",
    r"Rohingya|Myanmar",
)
q(
    "s06",
    "What did Canada say about Haiti?",
    "session",
    {"country": "CAN"},
    ["75", "76", "77", "78", "79"],
    r"Haiti",
)
q(
    "s07",
    "What did India say about terrorism?",
    "session",
    {"country": "IND"},
    ["75", "76", "77", "78", "79"],
    r"terror",
)
q(
    "s08",
    "What did Egypt say about the Renaissance Dam?",
    "session",
    {"country": "EGY"},
    ["75", "76", "77", "78", "79"],
    r"Renaissance Dam|GERD|Nile",
    r"Renaissance|GERD|Nile|dam\b",
)
q(
    "s09",
    "What did Türkiye say about Syria?",
    "session",
    {"country": "TUR"},
    ["75", "76", "77", "78", "79"],
    r"Syria",
)
q(
    "s10",
    "What did the United Kingdom say about Ukraine?",
    "session",
    {"country": "GBR"},
    ["75", "76", "77", "78", "79"],
    r"Ukrain",
    r"Ukrain|Russia",
)
q(
    "s11",
    "What did Brazil say about the Amazon?",
    "session",
    {"country": "BRA"},
    ["75", "76", "77", "78", "79"],
    r"Amazon",
    r"Amazon|rainforest|forest",
)
q(
    "y01",
    "What did South Korea say about North Korea's nuclear programme?",
    "date",
    {"country": "KOR"},
    ["2020", "2021", "2022", "2023", "2024"],
    r"nuclear|DPRK|North Korea",
    r"nuclear|DPRK|North Korea|Pyongyang",
)


if "--held-out" in sys.argv[2:]:
    # compare.test.v1: topics and countries compare.v1 does not use.
    Q.clear()
    q(
        "hc01",
        "What did Algeria say about Western Sahara?",
        "country",
        {"session": 78},
        ["DZA", "NAM", "LSO", "TLS", "PNG", "ISL", "LUX"],
        r"Western Sahara|Sahrawi|Polisario",
        r"Sahara|Sahrawi|Polisario|Morocc",
    )
    q(
        "hc02",
        "What did Palau say about Taiwan?",
        "country",
        {"session": 78},
        ["PLW", "MHL", "GTM", "VCT", "BLZ", "FIN", "HUN", "LKA"],
        r"Taiwan",
        r"Taiwan|Taipei|one China",
    )
    q(
        "hc03",
        "What did Burkina Faso say about the Sahel?",
        "country",
        {"session": 78},
        ["BFA", "MLI", "BEL", "MRT", "PRY", "MNG", "SWE"],
        r"Sahel",
        r"Sahel|Mali\b|Niger\b|Burkina",
    )
    q(
        "hc04",
        "What did Malta say about Libya?",
        "country",
        {"session": 77},
        ["MLT", "LBY", "COG", "TCD", "MAR", "LVA", "THA", "PER"],
        r"Libya",
        r"Libya|Tripoli",
    )
    q(
        "hc05",
        "What did South Sudan say about the war in Sudan?",
        "country",
        {"session": 78},
        ["SSD", "DJI", "KEN", "TCD", "CHL", "URY", "MNG"],
        r"Sudan\b",
        r"Sudan|Khartoum|Darfur",
    )
    q(
        "hc06",
        "What did Tonga say about plastic pollution?",
        "country",
        {"session": 78},
        ["TON", "WSM", "KIR", "SLB", "PER", "HRV", "MNG", "KGZ", "LAO"],
        r"plastic",
        r"plastic|pollution|marine|ocean",
    )
    q(
        "hc07",
        "What did Guyana say about Venezuela?",
        "country",
        {"session": 78},
        ["GUY", "ATG", "BRB", "KNA", "DMA", "PHL", "THA", "VNM"],
        r"Venezuela",
        r"Venezuela|Essequibo|Caracas",
    )
    q(
        "hc08",
        "What did Kuwait say about Iraq?",
        "country",
        {"session": 78},
        ["KWT", "IRQ", "GEO", "POL", "PRY", "GHA", "SVN"],
        r"Iraq",
        r"Iraq|Baghdad",
    )
    q(
        "hs01",
        "What did Poland say about Belarus?",
        "session",
        {"country": "POL"},
        ["75", "76", "77", "78", "79"],
        r"Belarus",
        r"Belarus|Minsk|Lukashenk",
    )
    q(
        "hs02",
        "What did Kenya say about Somalia?",
        "session",
        {"country": "KEN"},
        ["75", "76", "77", "78", "79"],
        r"Somali",
        r"Somali|Shabaab|Mogadishu",
    )
    q(
        "hs03",
        "What did Viet Nam say about the South China Sea?",
        "session",
        {"country": "VNM"},
        ["75", "76", "77", "78", "79"],
        r"South China Sea|East Sea",
        r"South China Sea|East Sea|UNCLOS|Law of the Sea",
    )
    q(
        "hs04",
        "What did the Netherlands say about flight MH17?",
        "session",
        {"country": "NLD"},
        ["75", "76", "77", "78", "79"],
        r"MH17|MH-17",
        r"MH17|MH-17|flight|downing",
    )
    q(
        "hs05",
        "What did Guatemala say about Taiwan?",
        "session",
        {"country": "GTM"},
        ["75", "76", "77", "78", "79"],
        r"Taiwan",
        r"Taiwan|Taipei|China",
    )
    q(
        "hs06",
        "What did the Democratic Republic of the Congo say about Rwanda?",
        "session",
        {"country": "COD"},
        ["75", "76", "77", "78", "79"],
        r"Rwanda|M23",
        r"Rwanda|M23|Kigali",
    )
    q(
        "hs07",
        "What did Estonia say about Belarus?",
        "session",
        {"country": "EST"},
        ["75", "76", "77", "78", "79"],
        r"Belarus",
        r"Belarus|Minsk|Lukashenk",
    )
    q(
        "hs08",
        "What did Chad say about Sudan?",
        "session",
        {"country": "TCD"},
        ["75", "76", "77", "78", "79"],
        r"Sudan\b",
        r"Sudan|Khartoum|Darfur",
    )

out = []
stats = dict(answer=0, decline=0, skipped=0)
for item in Q:
    cells = {}
    for g in item["groups"]:
        if item["by"] == "country":
            key = (g, item["filters"]["session"])
        elif item["by"] == "session":
            key = (item["filters"]["country"], int(g))
        else:
            key = (item["filters"]["country"], int(g) - 1945)
        r = by.get(key)
        if r is None:
            print("missing", item["id"], key)
            continue
        found = re.findall(item["answer"], r["text"], re.I)
        broad = re.findall(item["broad"], r["text"], re.I)
        if found:
            strings = list({f.strip().lower(): f.strip() for f in found}.values())[:4]
            cells[g] = {"doc_id": r["id"], "answer": strings}
            stats["answer"] += 1
        elif not broad:
            cells[g] = "decline"
            stats["decline"] += 1
        else:
            stats["skipped"] += 1
            print("skip", item["id"], g, broad[:3])
    rec = dict(
        id=item["id"],
        question=item["question"],
        by=item["by"],
        filters=item["filters"],
        groups=[g for g in item["groups"] if g in cells],
        cells=cells,
    )
    out.append(rec)
    print(item["id"], {g: ("D" if c == "decline" else len(c["answer"])) for g, c in cells.items()})
print(stats, len(out))
with open(sys.argv[1], "w") as f:
    for rec in out:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
