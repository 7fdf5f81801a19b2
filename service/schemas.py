"""Request and response models of the HTTP API (answers and documents reuse ``rag.models``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from rag.filters import Filters, filter_fields
from rag.models import DocumentInfo
from rag.settings import MAX_K, RetrievalMode

#: Metadata filter keys the index accepts (see ``index.catalog``).
METADATA_KEY_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
#: A question must contain something besides whitespace.
NOT_BLANK_PATTERN = r"\S"
MetadataKey = Annotated[str, StringConstraints(pattern=METADATA_KEY_PATTERN)]
#: SQLite stores 64-bit integers; larger ones are compared as floats.
MetadataInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def first_unencodable(value: object, where: str = "") -> str | None:
    """Location of the first string (key or value) that is not valid Unicode text, or None.

    JSON may carry lone surrogates (``"\\ud800"``); they cannot be stored or tokenised.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = first_unencodable(key, f"{where}.{key!r}") or first_unencodable(
                item, f"{where}.{key}"
            )
            if found:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for n, item in enumerate(value):
            found = first_unencodable(item, f"{where}[{n}]")
            if found:
                return found
    return None


def require_text(value: object, name: str) -> None:
    where = first_unencodable(value, name)
    if where is not None:
        raise ValueError(f"{where} contains characters that are not valid Unicode text")


def _flat_filter_schema(schema: dict[str, Any]) -> None:
    """State the flat shape in the schema: any other key is a metadata key."""
    schema["additionalProperties"] = {
        "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}],
        "description": "Any other key is a metadata key, as in `metadata` (flat shape: "
        '`{"country": "SWE"}` is `{"metadata": {"country": "SWE"}}`).',
    }
    schema["propertyNames"] = {"pattern": METADATA_KEY_PATTERN}
    schema["properties"]["doc_id"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "One document id, or several: the same as `doc_ids`.",
    }


class RequestFilters(Filters):
    """Restrict retrieval to some documents. Every field is optional; all given must hold.

    Two shapes, which may be mixed: flat, as the CLI, the Python API and MCP take filters
    (``{"country": "SWE", "date_from": "2022", "doc_id": "a"}``: a key that is no built-in
    field is a metadata key), or with the metadata nested (``{"metadata": {"country": "SWE"}}``).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_flat_filter_schema)

    @model_validator(mode="before")
    @classmethod
    def _flat_shape(cls, value: object) -> object:
        return filter_fields(value) if isinstance(value, Mapping) else value

    metadata: dict[MetadataKey, str | MetadataInt | FiniteFloat | bool] = Field(
        default_factory=dict,
        description="Only documents whose metadata has these key/values. Keys are 1-64 "
        "letters, digits, '_', '.' or '-'.",
        json_schema_extra={"additionalProperties": False},
    )

    @field_validator("doc_ids", "source", "date_from", "date_to", "metadata")
    @classmethod
    def _valid_text(cls, value: object) -> object:
        require_text(value, "filters")
        return value


class AskRequest(BaseModel):
    """A question and how to retrieve for it."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        ...,
        min_length=1,
        description="The question in plain words.",
        examples=["When did Sweden join NATO?"],
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )
    k: int | None = Field(
        None,
        ge=1,
        le=MAX_K,
        description=f"Passages to retrieve, 1-{MAX_K} (default: the server's top_k).",
    )
    filters: RequestFilters | None = Field(
        None,
        description="Restrict retrieval to some documents, in the shape the CLI, the Python "
        'API and MCP take (`{"country": "SWE", "date_from": "2022"}`) or with the metadata '
        'nested (`{"metadata": {"country": "SWE"}}`). A key, or a value of one field, that no '
        "document has is a 422 naming the known keys or close values.",
        examples=[{"country": "SWE", "date_from": "2022"}],
    )
    mode: RetrievalMode | None = Field(
        None, description="Retrieval mode (default: the server's, normally 'hybrid')."
    )

    @field_validator("question", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        """Leading and trailing spaces do not count toward the length limit."""
        if isinstance(value, str) and value.strip():
            return value.strip()
        return value  # blank: left for the plain "the question is empty" below

    @field_validator("question")
    @classmethod
    def _question_is_text(cls, value: str) -> str:
        if not value or value.isspace():
            raise ValueError("the question is empty; ask a question in plain words")
        require_text(value, "question")
        return value


def ask_request_model(max_question_chars: int) -> type[AskRequest]:
    """:class:`AskRequest` with this server's question length limit in its schema."""
    return create_model(
        "AskRequest",
        __base__=AskRequest,
        __doc__=AskRequest.__doc__,
        question=(
            str,
            Field(
                ...,
                min_length=1,
                max_length=max_question_chars,
                description=f"The question in plain words (at most {max_question_chars} "
                "characters).",
                examples=["When did Sweden join NATO?"],
                json_schema_extra={"pattern": NOT_BLANK_PATTERN},
            ),
        ),
    )


class HealthResponse(BaseModel):
    """Whether the service is ready, and what its index holds."""

    ready: bool = Field(..., description="True once the index and the model are loaded.")
    documents: int = Field(..., ge=0, description="Documents in the index.")
    chunks: int = Field(..., ge=0, description="Retrievable chunks in the index.")
    sentences: int = Field(..., ge=0, description="Sentences (citable units) in the index.")
    vector_index: Literal["flat", "ivf"] = Field(
        ..., description="FAISS index kind: exact 'flat' or approximate 'ivf'."
    )
    model: str = Field(..., description="Embedding model the index was built with.")
    dimension: int = Field(..., ge=1, description="Embedding dimension.")
    generation: int = Field(..., ge=0, description="Committed index generation (grows on writes).")
    auth_required: bool = Field(
        ..., description="True when adding or deleting documents needs `Authorization: Bearer`."
    )
    max_question_chars: int = Field(..., ge=1, description="Longest question accepted.")
    max_upload_bytes: int = Field(..., ge=1, description="Largest upload accepted.")
    writes_pending: int = Field(
        ..., ge=0, description="Writes holding a place in the write queue now (queued or running)."
    )
    write_queue_size: int = Field(
        ..., ge=1, description="Places in the write queue; one more write gets 503 `Retry-After`."
    )


class DocumentList(BaseModel):
    """One page of the documents in the index, in id order."""

    documents: list[DocumentInfo] = Field(..., description="The documents of this page.")
    total: int = Field(..., ge=0, description="Documents in the index.")
    limit: int = Field(..., ge=1, description="Page size asked for.")
    offset: int = Field(..., ge=0, description="Documents skipped before this page.")


class IngestResponse(BaseModel):
    """What adding documents did. The documents answer questions as soon as this returns."""

    ids: list[str] = Field(..., description="Ids of the documents received, in order.")
    added: int = Field(..., ge=0, description="New documents.")
    updated: int = Field(..., ge=0, description="Documents whose content replaced an older one.")
    unchanged: int = Field(..., ge=0, description="Documents identical to the stored ones.")
    chunks: int = Field(..., ge=0, description="Chunks embedded and written.")
    seconds: float = Field(..., ge=0, description="Time the ingest took.")


class DeleteResponse(BaseModel):
    """A document was deleted."""

    id: str = Field(..., description="Id of the deleted document.")
    deleted: bool = Field(True, description="Always true (an unknown id gives 404).")
