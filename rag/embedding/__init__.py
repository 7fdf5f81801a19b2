"""Text embedding: the encoder protocol and its implementations.

- :mod:`rag.embedding.protocol` — :class:`Embedder`, what ingest and questions need of an encoder;
- :mod:`rag.embedding.model_folder` — a sentence-transformers folder read without loading it;
- :mod:`rag.embedding.sentence_transformer` — the torch encoder (imports torch on first use);
- :mod:`rag.embedding.onnx_bert` — a BERT encoder's ONNX graph written from its weights (no torch);
- :mod:`rag.embedding.onnx_export` — exports the model once per model version into the user cache
  (through ``onnx_bert``, or torch for other architectures), copied into each index;
- :mod:`rag.embedding.onnx_runtime` — the torch-free ONNX Runtime encoder used for ingest and
  questions.

Importing this package is cheap: torch, onnxruntime and tokenizers are imported on first use.
Dependencies run one way: protocol ← model_folder ← sentence_transformer, onnx_runtime ←
onnx_export.
"""

from rag.embedding.model_folder import ModelFolder, default_model_path, read_model_folder
from rag.embedding.onnx_runtime import OnnxQueryEncoder
from rag.embedding.protocol import Embedder
from rag.embedding.sentence_transformer import SentenceTransformerEmbedder

__all__ = [
    "Embedder",
    "ModelFolder",
    "OnnxQueryEncoder",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "read_model_folder",
]
