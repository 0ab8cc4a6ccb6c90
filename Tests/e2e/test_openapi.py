"""The OpenAPI 3.1 document of the whole HTTP surface (Public/openapi.json, served at
/openapi.json; docs/api.md) against the running server, with schemathesis (issue 19): for
requests generated from the document, valid ones and ones that break it (negative mode), with
a signed-in user's token, no answer is a 5xx and every answer matches what the document says
of its status, content type and body.

The document's routes are checked against the server's router by
Tests/AppTests/OpenAPIDocumentTests.swift; this checks what the routes answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from e2e_support import TEST_OTPS

DOCUMENT = Path(__file__).resolve().parents[2] / "Public" / "openapi.json"
PHONE = "+15555550390"
# Examples generated per operation and mode: enough to reach each documented error answer,
# small enough for CI (about a hundred operations, two modes: some three minutes).
EXAMPLES = 8



@schemathesis.serializer("application/offset+octet-stream")
def tus_chunk(_context, value) -> bytes:
    """A TUS upload chunk (PATCH body) is raw bytes: generated ones are sent as they are."""
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_path(DOCUMENT)
# Signing out would revoke the token every later request carries.
schema = schema.exclude(path="/auth/v1/logout")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module")
def credentials(server) -> dict[str, str]:
    """The anon key and a signed-in user's access token, as every client request carries them."""
    headers = {"apikey": server.anon_key, "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/auth/v1/otp", headers=headers, json={"phone": PHONE}).raise_for_status()
        verified = client.post("/auth/v1/verify", headers=headers, json={"phone": PHONE, "token": TEST_OTPS[PHONE], "type": "sms"})
        verified.raise_for_status()
        token = verified.json()["access_token"]
    return {"apikey": server.anon_key, "Authorization": f"Bearer {token}"}


def test_the_document_is_served_as_kept_in_the_repository(server):
    served = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    assert served.json() == json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert served.json()["openapi"] == "3.1.0"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_answers_are_never_5xx_and_match_the_document(case, server, credentials):
    case.call_and_validate(
        base_url=server.url,
        headers=credentials,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
        timeout=30,
    )
