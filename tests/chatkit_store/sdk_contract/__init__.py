"""The openai-chatkit SDK's own store and server tests (v1.6.5), run against PostgresStore.

`test_sdk_store.py` and `test_sdk_server.py` are copies of the SDK's `tests/test_store.py` and
`tests/test_chatkit_server.py` at tag v1.6.5 (commit dacc133c280b39b9334d06ea73f0f1c199e59927,
https://github.com/openai/chatkit-python), Apache License 2.0, Copyright OpenAI. Each file says
at its top what was changed; the test bodies are the SDK's. `harness.py` holds the database the
copies run on.
"""
