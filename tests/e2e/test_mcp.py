"""`rag mcp`: a round trip with the official MCP SDK's stdio client against a real process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from rag.settings import Settings

mcp = pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

ARTICLE_ID = "japan-sweden-security-cooperation.txt"


def payload(result: Any) -> Any:
    """A tool result's JSON (structured content when given, else the text block)."""
    if getattr(result, "structuredContent", None):
        data = result.structuredContent
        return data.get("result", data) if isinstance(data, dict) and len(data) == 1 else data
    return json.loads(result.content[0].text)


async def round_trip(index_dir: str) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rag.cli", "mcp", "--index", index_dir],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "RAG_EMBED_THREADS": "1"},
    )
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        out["ask"] = payload(
            await session.call_tool("ask", {"question": "Who is quoted on Ukraine?", "k": 3})
        )
        out["search"] = payload(
            await session.call_tool("search", {"query": "Sweden NATO accession", "k": 2})
        )
        out["document"] = payload(await session.call_tool("get_document", {"doc_id": ARTICLE_ID}))
        out["missing"] = await session.call_tool("get_document", {"doc_id": "nope"})
        out["compare"] = payload(
            await session.call_tool(
                "compare", {"question": "Who is quoted on Ukraine?", "by": "language"}
            )
        )
        out["bad_key"] = await session.call_tool("compare", {"question": "Who?", "by": "colour"})
        out["bad_filter"] = await session.call_tool(
            "ask", {"question": "Who?", "filters": {"contry": "ALB"}}
        )
    return out


def test_mcp_round_trip(article_index: Settings) -> None:
    out = asyncio.run(asyncio.wait_for(round_trip(str(article_index.index_dir)), 240))
    assert out["tools"] == ["ask", "compare", "get_document", "search"]
    answer = out["ask"]
    assert answer["question"] == "Who is quoted on Ukraine?" and "answer_plain" in answer
    assert len(answer["passages"]) <= 3 and answer["passages"][0]["doc_id"] == ARTICLE_ID
    doc = out["document"]
    assert doc["id"] == ARTICLE_ID and len(doc["text"]) > 3000
    for c in answer["citations"]:
        assert doc["text"][c["char_start"] : c["char_end"]] == c["quote"]
    passages = out["search"]
    assert 1 <= len(passages) <= 2 and "Sweden" in " ".join(p["text"] for p in passages)
    assert all(0.0 <= p["relevance"] <= 1.0 and "debug" not in p for p in passages)
    assert out["missing"].isError and "nope" in out["missing"].content[0].text
    assert out["bad_filter"].isError and "known keys" in out["bad_filter"].content[0].text
    table = out["compare"]  # one group: the article's language
    assert table["by"] == "language" and table["groups_total"] == 1
    assert [r["group"] for r in table["rows"]] + table["declined"] == ["en"]
    for row in table["rows"]:
        assert row["status"] == "answered" and row["answer"]["citations"]
        for c in row["answer"]["citations"]:
            assert doc["text"][c["char_start"] : c["char_end"]] == c["quote"]
    assert out["bad_key"].isError and "no document carries" in out["bad_key"].content[0].text
