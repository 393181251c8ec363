"""schemathesis against the running API (uvicorn on 127.0.0.1), all phases (examples, coverage, fuzzing,
stateful), as an OPD user and as an admin: no 5xx, no invalid input accepted, only documented status
codes, responses that match the schema.

Bounded for CI: HADIR_FUZZ_EXAMPLES examples per operation (default 5). The full run reported in
docs/api.md: `HADIR_FUZZ_EXAMPLES=100 .venv/bin/python -m pytest -q -s --timeout 3600 tests/test_api_fuzz.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fuzz_app import PASSWORD, USERS, seed

from testkit.localservices import free_port

EXAMPLES = int(os.environ.get("HADIR_FUZZ_EXAMPLES", "5"))
HERE = Path(__file__).resolve().parent
# Checks on every response. positive_data_acceptance is left out: a well-formed request may still be
# refused for what it says (an unknown NIP is 404, a duplicate 409, a closed month 409).
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection,ignored_auth,missing_required_header,unsupported_method,use_after_free,"
          "ensure_resource_availability")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    seed(folder)
    port = free_port()
    env = {**os.environ, "HADIR_FUZZ_DIR": str(folder), "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "fuzz_app:create", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], env=env, cwd=HERE.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    # Both tokens first: the fuzzer's failed logins soon throttle logins from 127.0.0.1 (by design).
    tokens = {user: httpx.post(f"{base}/auth/token", json={"username": user, "password": PASSWORD}).json()
              ["access_token"] for user in USERS}
    yield base, tokens
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.parametrize("user", ["kadis", "admin"])  # the OPD user first: the admin run changes data
def test_schemathesis_finds_nothing(server, user, tmp_path):
    base, tokens = server
    cmd = [str(Path(sys.executable).with_name("st")), "run", f"{base}/openapi.json",
           "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(EXAMPLES), "--checks", CHECKS,
           "--workers", "1", "--seed", "13", "--request-timeout", "30", "--suppress-health-check", "all",
           "--exclude-path", "/stream/checkins", "--exclude-path", "/auth/logout",
           "-H", f"Authorization: Bearer {tokens[user]}", "--report", "junit", "--report-dir", str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, cwd=tmp_path)
    summary = run.stdout[-6000:]
    print(summary)
    assert run.returncode == 0, summary
