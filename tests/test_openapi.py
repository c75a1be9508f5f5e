"""schemathesis against the OpenAPI schema: generated requests (valid and not) never get a 5xx, and
every answer conforms to the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State


@pytest.fixture(scope="module")
def _key_and_app(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    folder = tmp_path_factory.mktemp("openapi")
    s = Settings(index=str(built_index), state=str(folder / "state.sqlite"), rate_limit_per_minute=100_000,
                 rate_limit_burst=100_000)  # fmt: skip
    state = State(s.state)
    _, key = state.create_key("schemathesis")
    state.close()
    return key, create_app(s)


GENERATION = {"/v1/completions", "/v1/inference/bigcode/starcoder2-15b", "/generate", "/generate_stream", "/",
              "/info"}  # fmt: skip
#: TGI's routes, whose token count is inside `parameters` (default 100).
TGI = {"/generate", "/generate_stream", "/"}


def test_no_server_errors(_key_and_app: tuple[str, Any]) -> None:
    key, app = _key_and_app
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/search",
        "/v1/repos/{owner}/{name}",
        "/v1/usage",
        "/healthz",
    }
    # The generation routes answer 503 here (this app has no model), by design: they are fuzzed with a
    # model below.
    operations = [op for op in operations if op.path not in GENERATION]
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()


#: Longest completion a generated request may ask for here: the schema allows 100,000 tokens, and every
#: valid request runs the model on CPU; larger valid values (and the default, 512) are cut to this,
#: invalid ones are sent as they are.
_MAX_TOKENS_HERE = 12


@pytest.mark.timeout(1200)  # the first run on a machine trains the tiny model
def test_generation_routes_no_server_errors(
    tiny_model: Path, tiny_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The generation routes with a model (the tiny StarCoder2): generated requests, valid and not, never
    get a 5xx, and every answer conforms to the schema."""
    folder = tmp_path_factory.mktemp("openapi-gen")
    s = Settings(index=str(tiny_index), state=str(folder / "state.sqlite"), model=str(tiny_model),
                 rate_limit_per_minute=100_000, rate_limit_burst=100_000)  # fmt: skip
    state = State(s.state)
    _, key = state.create_key("schemathesis")
    state.close()
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(s))
    headers = {"Authorization": f"Bearer {key}"}
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    operations = [r.ok() for r in api.get_all_operations() if r.ok().path in GENERATION]
    assert {op.path for op in operations} == GENERATION
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            body = case.body
            if case.path in TGI and isinstance(body, dict):
                body = body.get("parameters", {}) if isinstance(body.get("parameters", {}), dict) else None
                if body is not None and "parameters" not in case.body:
                    case.body["parameters"] = body
            if isinstance(body, dict):
                # Every valid request runs the model: keep them short (the default is 512 tokens).
                name = "max_tokens" if case.path == "/v1/completions" else "max_new_tokens"
                v = body.get(name, 512)
                if isinstance(v, int) and not isinstance(v, bool) and _MAX_TOKENS_HERE < v <= 100_000:
                    body[name] = _MAX_TOKENS_HERE
            case.call_and_validate(headers=headers, checks=checks)

        run()
