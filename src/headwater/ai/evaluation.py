"""The ``make ai-eval`` harness: generate connectors for a small corpus of mock APIs and score them.

Each :class:`EvalCase` is an API description (what a user would pass to ``--describe`` and
``--docs``), the tables it should produce, and one of the local mock servers of
:mod:`headwater.ai.eval_apis`: offset, cursor and Link-header pagination; API-key and OAuth2
client-credentials authentication; an incremental ``updated_at`` filter; an API that answers 429
often. :func:`run_case` starts the server, runs :func:`headwater.ai.generate` against it with the
case's configuration and reports whether every gate passed, in how many rounds, with how many
tokens and at what estimated cost::

    results = run_evaluation(CASES, fake=True)      # the scripted fake model: offline, for CI
    print(render_results(results))

With ``fake=False`` the real model is called (``ANTHROPIC_API_KEY``). The fake model answers as a
good model would: a correct connector modelled on ``headwater init --template rest-api``, with a
mock of the API (this package's ``eval_apis.py``) and tests; for the rate-limited API its first
answer forgets the retries, so the loop has a real finding to feed back.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from headwater.ai.client import DEFAULT_MODEL, Model, ModelClient
from headwater.ai.eval_apis import CLIENT_ID, CLIENT_SECRET, DEFAULT_API_KEY, EvalApiServer
from headwater.ai.fake_model import FakeMessagesServer, ScriptedAnswer
from headwater.ai.loop import Budget, GenerateRequest, generate
from headwater.ai.report import GenerationReport

__all__ = [
    "CASES",
    "CaseResult",
    "EvalCase",
    "case_named",
    "good_answer",
    "render_results",
    "run_case",
    "run_evaluation",
    "scripted_answers",
]


@dataclass(frozen=True)
class EvalCase:
    """One API of the corpus and what a good connector for it produces."""

    name: str
    kind: str
    title: str
    description: str
    docs: str
    tables: tuple[str, ...]
    primary_key: str
    credentials: Mapping[str, str]
    bad_credentials: Mapping[str, str]
    server_options: Mapping[str, Any] = field(default_factory=dict)

    def configuration(self, server: EvalApiServer) -> dict[str, str]:
        """The configuration a user would write for this API running at ``server``."""
        return {"base_url": server.url, **self.credentials, "page_size": "10"}


def _docs(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


CASES: Final[tuple[EvalCase, ...]] = (
    EvalCase(
        name="offset-api-key", kind="offset", title="Customer directory",
        description="Sync the customers of our Customer Directory API into a `customers` table.",
        docs=_docs("""
            # Customer Directory API

            `GET {base_url}/api/customers?offset=0&limit=25` lists customers, oldest first.
            Authenticate with the header `X-API-Key: <api key>`; a wrong key answers 401.
            Pagination: `offset` (default 0) and `limit` (1 to 25, default 10). The response is
            `{"customers": [...], "total": 123, "offset": 0, "limit": 25}`; stop when offset reaches total.
            There is no filter on modification time.

            Customer fields:
            - `id` (integer): unique customer id
            - `name`, `email`, `country` (strings)
            - `balance` (decimal number, sent as a string such as "120.50")
            - `signup_date` (date, YYYY-MM-DD)
            - `created_at` (timestamp, ISO 8601 in UTC)
            """),
        tables=("customers",), primary_key="id", credentials={"api_key": DEFAULT_API_KEY},
        bad_credentials={"api_key": "wrong-key"},
    ),
    EvalCase(
        name="cursor-incremental", kind="cursor", title="Helpdesk tickets",
        description="Sync helpdesk tickets incrementally into a `tickets` table, fetching only tickets "
                    "updated since the last sync.",
        docs=_docs("""
            # Helpdesk API v2

            `GET {base_url}/v2/tickets?page_size=50&updated_since=2024-01-01T00:00:00Z&cursor=...`
            Authenticate with `Authorization: Bearer <api key>`.
            Tickets come sorted by `updated_at`, then `id`. `updated_since` is inclusive (updated_at >= it).
            The response is `{"items": [...], "next_cursor": "..."}`; pass `next_cursor` back as `cursor`
            for the next page; it is null on the last page. `page_size` is 1 to 50.

            Ticket fields:
            - `id` (string such as "T-0001")
            - `subject`, `status` (strings)
            - `priority` (integer 1 to 4)
            - `requester` (object with `name` and `email`)
            - `created_at`, `updated_at` (timestamps, ISO 8601 in UTC)
            """),
        tables=("tickets",), primary_key="id", credentials={"api_key": DEFAULT_API_KEY},
        bad_credentials={"api_key": "wrong-key"},
    ),
    EvalCase(
        name="link-header", kind="link", title="Product catalogue",
        description="Sync the product catalogue into a `products` table.",
        docs=_docs("""
            # Catalogue API

            `GET {base_url}/products?page=1&per_page=30` answers a JSON array of products.
            Authenticate with `Authorization: Token <api token>`.
            Pagination follows the `Link` response header: `<{url}>; rel="next"` names the next page's
            full URL; the last page has no `rel="next"`. `per_page` is 1 to 30.

            Product fields:
            - `sku` (string, unique)
            - `title` (string)
            - `price` (decimal number, e.g. 19.99)
            - `stock` (integer)
            - `tags` (list of strings)
            - `updated_at` (timestamp, ISO 8601 in UTC)
            """),
        tables=("products",), primary_key="sku", credentials={"api_token": DEFAULT_API_KEY},
        bad_credentials={"api_token": "wrong-token"},
    ),
    EvalCase(
        name="oauth2-client-credentials", kind="oauth", title="Invoicing",
        description="Sync invoices from our invoicing API into an `invoices` table. It uses OAuth2 client "
                    "credentials.",
        docs=_docs("""
            # Invoicing API

            Get a token: `POST {base_url}/oauth/token` with a form body
            `grant_type=client_credentials&client_id=...&client_secret=...`; the answer is
            `{"access_token": "...", "token_type": "bearer", "expires_in": 3600}`. Wrong credentials: 401.

            `GET {base_url}/v1/invoices?page=1&page_size=50` with `Authorization: Bearer <access_token>`.
            The response is `{"data": [...], "page": 1, "total_pages": 4}`; pages start at 1.

            Invoice fields:
            - `id` (integer), `number` (string such as "INV-00001")
            - `customer_id` (integer)
            - `amount` (decimal number), `currency` (ISO code)
            - `issued_on` (date, YYYY-MM-DD)
            - `status` (string: draft, sent, paid)
            """),
        tables=("invoices",), primary_key="id",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        bad_credentials={"client_secret": "wrong-secret"},
    ),
    EvalCase(
        name="rate-limited", kind="throttle", title="Event stream",
        description="Sync our product analytics events into an `events` table. The API rate-limits hard.",
        docs=_docs("""
            # Events API

            `GET {base_url}/v1/events?after=0&limit=100` lists events with an id greater than `after`,
            in increasing id order. The response is `{"events": [...], "has_more": true}`.
            Events never change once written. Authenticate with the header `Api-Key: <api key>`.
            Rate limits: the API often answers `429 Too Many Requests` with a `Retry-After` header
            (seconds); wait that long and retry.

            Event fields:
            - `id` (integer, increasing)
            - `type` (string)
            - `user_id` (integer)
            - `occurred_at` (timestamp, ISO 8601 in UTC)
            - `properties` (object)
            """),
        tables=("events",), primary_key="id", credentials={"api_key": DEFAULT_API_KEY},
        bad_credentials={"api_key": "wrong-key"},
    ),
)


def case_named(name: str) -> EvalCase:
    """The case called ``name`` (or whose mock API kind is ``name``)."""
    for case in CASES:
        if name in (case.name, case.kind):
            return case
    raise KeyError(f"no evaluation case {name!r}; the cases are {', '.join(case.name for case in CASES)}")


# --- the fake model's answers -------------------------------------------------------------------

CREDENTIAL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "offset": ("api_key",), "cursor": ("api_key",), "link": ("api_token",), "oauth": ("client_id", "client_secret"),
    "throttle": ("api_key",),
}


@cache
def _answer_file(name: str) -> str:
    return resources.files("headwater.ai").joinpath("eval_answers").joinpath(name).read_text(encoding="utf-8")


def _connector(case: EvalCase) -> str:
    fields = CREDENTIAL_FIELDS[case.kind]
    common = (_answer_file("common.py.tmpl")
              .replace("{{credential_fields}}", "\n    ".join(f"{name}: str" for name in fields))
              .replace("{{credential_reads}}", "\n            ".join(
                  f'{name}=required_text(configuration, "{name}"),' for name in fields)))
    return (_answer_file(f"{case.kind}.py.tmpl")
            .replace("{{header}}", _answer_file("header.py.tmpl").rstrip("\n"))
            .replace("{{common}}", common.rstrip("\n")))


def _tests(case: EvalCase) -> str:
    values = ", ".join(f'"{key}": {value!r}' for key, value in case.credentials.items())
    configuration = f'{{"base_url": api.url, {values}, "page_size": "5"}}'
    bad = "{" + ", ".join(f'"{key}": {value!r}' for key, value in case.bad_credentials.items()) + "}"
    return (_answer_file("test_connector.py.tmpl").replace("{{kind}}", case.kind).replace("{{table}}", case.tables[0])
            .replace("{{key}}", case.primary_key).replace("{{configuration}}", configuration)
            .replace("{{bad_credentials}}", bad))


def _readme(case: EvalCase) -> str:
    keys = ["base_url", *CREDENTIAL_FIELDS[case.kind], "page_size"]
    rows = "\n".join(f"| `{key}` | {'no' if key == 'page_size' else 'yes'} |" for key in keys)
    return textwrap.dedent(f"""\
        # {case.title} connector

        Syncs the {case.title.lower()} API into the `{case.tables[0]}` table (primary key `{case.primary_key}`).
        See the docstring of `connector.py` for pagination, authentication and incremental behaviour.

        ## Configure

        | Key | Required |
        |-----|----------|
        {{rows}}

        Values are strings. `configuration.json` holds placeholders: put the real values in, never commit them.

        ## Debug and test

        ```
        python mock_server.py {case.kind} &   # a local mock of the API on http://127.0.0.1:8765
        headwater lint
        headwater debug
        python -m pytest tests
        ```
        """).replace("{rows}", rows)


def good_answer(case: EvalCase) -> dict[str, str]:
    """The files a good model writes for ``case``: connector, tests, mock API, README, placeholders."""
    keys = ["base_url", *CREDENTIAL_FIELDS[case.kind], "page_size"]
    configuration = {key: f"<{key.upper()}>" for key in keys}
    return {
        "connector.py": _connector(case),
        "requirements.txt": "# The connector needs no packages beyond the runtime's (requests is provided).\n",
        "configuration.json": json.dumps(configuration, indent=2) + "\n",
        "README.md": _readme(case),
        "mock_server.py": resources.files("headwater.ai").joinpath("eval_apis.py").read_text(encoding="utf-8"),
        "tests/test_connector.py": _tests(case),
    }


def scripted_answers(case: EvalCase) -> list[ScriptedAnswer]:
    """What the fake model answers for ``case``, round by round."""
    good = good_answer(case)
    answers = []
    if case.kind == "throttle":
        # A first draft without retries: the 429s fail the run, and the findings say so.
        forgetful = good["connector.py"].replace("HTTPAdapter(max_retries=retry)", "HTTPAdapter(max_retries=0)")
        answers.append(ScriptedAnswer(files={**good, "connector.py": forgetful},
                                      notes="First draft of the events connector."))
    answers.append(ScriptedAnswer(files=good, notes=f"The {case.title.lower()} connector, its tests and a mock API."))
    return answers


# --- running ------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    """How one case went."""

    case: str
    succeeded: bool
    status: str
    rounds: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    seconds: float
    reason: str = ""
    report: GenerationReport | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "report"}




def run_case(case: EvalCase, workdir: Path, model: Model, *, budget: Budget | None = None) -> CaseResult:
    """Generate a connector for ``case`` in ``workdir/<case>/project`` with ``model`` and score it."""
    started = time.monotonic()
    folder = workdir / case.name
    folder.mkdir(parents=True, exist_ok=True)
    docs = folder / "api.md"
    docs.write_text(case.docs, encoding="utf-8")
    with EvalApiServer(case.kind, **dict(case.server_options)) as server:
        request = GenerateRequest(project=folder / "project", description=case.description, docs=(docs,),
                                  tables=case.tables, configuration=case.configuration(server),
                                  budget=budget or Budget(rounds=4, usd=2.0), force=True)
        report = generate(request, model=model)
    usage = report.usage
    return CaseResult(case=case.name, succeeded=report.succeeded, status=report.status, rounds=len(report.rounds),
                      input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=report.cost_usd,
                      seconds=time.monotonic() - started, reason=report.reason if not report.succeeded else "",
                      report=report)


def _run_one(case: EvalCase, root: Path, *, fake: bool, model: str, budget: Budget | None) -> CaseResult:
    if not fake:
        return run_case(case, root, ModelClient(model=model), budget=budget)
    with FakeMessagesServer(scripted_answers(case)) as server:
        client = ModelClient(model=model, api_key="fake-key", base_url=server.url, max_retries=0, environ={})
        return run_case(case, root, client, budget=budget)


def run_evaluation(cases: Iterable[EvalCase] = CASES, *, fake: bool = True, model: str = DEFAULT_MODEL,
                   workdir: Path | None = None, budget: Budget | None = None, parallel: int = 1,
                   on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run every case; with ``fake`` against a scripted :class:`FakeMessagesServer`, else the real API.

    ``parallel`` cases run at once (each has its own mock API and model server); results keep the
    order of ``cases``.
    """
    chosen = list(cases)
    with tempfile.TemporaryDirectory(prefix="headwater-ai-eval-") as scratch:
        root = workdir or Path(scratch)
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="ai-eval") as pool:
            futures = [pool.submit(_run_one, case, root, fake=fake, model=model, budget=budget) for case in chosen]
            results = []
            for future in futures:
                result = future.result()
                results.append(result)
                if on_result is not None:
                    on_result(result)
    return results


def render_results(results: Sequence[CaseResult], *, model: str = "", fake: bool = True) -> str:
    """One line per case (result, rounds, tokens, cost, time), then the success rate and totals."""
    header = ["Case", "Result", "Rounds", "Tokens in", "Tokens out", "Cost", "Seconds"]
    rows = [header] + [[
        result.case, "pass" if result.succeeded else f"FAIL ({result.status})", str(result.rounds),
        f"{result.input_tokens:,}", f"{result.output_tokens:,}", f"${result.cost_usd:.4f}", f"{result.seconds:.1f}",
    ] for result in results]
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    passed = sum(result.succeeded for result in results)
    total_cost = sum(result.cost_usd for result in results)
    rounds = sum(result.rounds for result in results)
    lines.append("")
    lines.append(f"{'fake model' if fake else model}: {passed}/{len(results)} cases passed "
                 f"({100 * passed / max(len(results), 1):.0f}%), {rounds} rounds, ${total_cost:.4f} estimated")
    for result in results:
        if not result.succeeded:
            lines.append(f"  {result.case}: {result.reason}")
    return "\n".join(lines) + "\n"
