"""The ai-eval harness with the fake model: every case of the corpus converges, and the good
answers the fake model gives are lint-clean connectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.ai.eval_apis import KINDS, start_server
from headwater.ai.evaluation import CASES, good_answer, render_results, run_evaluation
from headwater.lint import lint_project


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_fake_models_good_answers_lint_clean(tmp_path: Path, case: object) -> None:
    for path, text in good_answer(case).items():  # type: ignore[arg-type]
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")

    assert lint_project(tmp_path).findings == ()


def test_the_corpus_covers_every_mock_api() -> None:
    assert sorted(case.kind for case in CASES) == sorted(KINDS)
    with start_server("throttle", records=3) as server:
        assert server.url.startswith("http://127.0.0.1:")


def test_the_fake_evaluation_passes_every_case_and_reports_rounds_tokens_and_cost(tmp_path: Path) -> None:
    results = run_evaluation(CASES, fake=True, workdir=tmp_path, parallel=3)
    table = render_results(results)

    assert [result.succeeded for result in results] == [True] * len(CASES), table
    rounds = {result.case: result.rounds for result in results}
    assert rounds["rate-limited"] == 2 and all(count == 1 for case, count in rounds.items() if case != "rate-limited")
    assert all(result.input_tokens > 0 and result.output_tokens > 0 and result.cost_usd > 0 for result in results)
    assert f"{len(CASES)}/{len(CASES)} cases passed (100%)" in table
