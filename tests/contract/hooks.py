"""Schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS).

* Each request carries the token of a role its operation admits: the operation's `x-roles` in the OpenAPI document
  (services/common/contract.py), taken in turn when it names several, so that every role an operation admits
  calls it; a public operation (`x-roles: []`) is sent without a token. The tokens, one per role, come in
  CONTRACT_TOKENS (a JSON object: role -> token) from tests/contract/test_schemathesis.py.
* Requests whose query or path parameters would make the URL longer than MAX_URL_PART are not generated: the HTTP
  server refuses such a request line itself (uvicorn answers a bare 400 "Invalid HTTP request received." before
  any application code runs), as proxies do, so they say nothing about the API's contract.
* Each answer is recorded in the file CONTRACT_ANSWERS (a line per call: method, path template, role or "-",
  status), so that the test shows every operation reached past its role check.
"""

import itertools
import json
import os
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote, urlencode

import schemathesis

# The batch scoring endpoints take JSON Lines declared as a string: send the string's text as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

MAX_URL_PART = 8 * 1024
TOKENS: dict[str, str] = json.loads(os.environ.get("CONTRACT_TOKENS", "{}"))
PUBLIC = "-"
_turns: dict[str, Iterator[str]] = {}
_sent: dict[int, str] = {}
_answers: list[IO[str]] = []


def role_for(operation: dict[str, Any], label: str) -> str | None:
    """The role whose token calls the operation this time (None: a public operation, called without one)."""
    roles = operation.get("x-roles")
    if roles is None:
        raise LookupError(f"{label}: the OpenAPI document names no x-roles")
    if not roles:
        return None
    return next(_turns.setdefault(label, itertools.cycle(roles)))


@schemathesis.hook
def filter_query(context: Any, query: dict[str, Any] | None) -> bool:
    return not query or len(urlencode(query, doseq=True)) <= MAX_URL_PART


@schemathesis.hook
def filter_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> bool:
    return not path_parameters or sum(len(quote(str(v), safe="")) for v in path_parameters.values()) <= MAX_URL_PART


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    role = role_for(case.operation.definition.raw, case.operation.label)
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if role is not None:
        headers["Authorization"] = f"Bearer {TOKENS[role]}"
    if headers or case.headers is not None:
        case.headers = headers
    _sent[id(case)] = role or PUBLIC


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    path = os.environ.get("CONTRACT_ANSWERS")
    if not path:
        return
    if not _answers:
        _answers.append(open(path, "a", encoding="utf-8"))  # kept open for the whole run
    role = _sent.pop(id(case), PUBLIC)
    elapsed = float(getattr(response, "elapsed", 0) or 0)
    _answers[0].write(
        f"{case.operation.method.upper()}\t{case.operation.path}\t{role}\t{response.status_code}\t{elapsed:.4f}\n"
    )
    _answers[0].flush()
