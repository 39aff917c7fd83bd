"""``hearth bench draft`` on the real starter model, one short round: every figure the README
quotes is there, with the draft model's side when one is given (the zoo's tiny llama)."""

import pytest

from app.bench.draft import TASKS, copied_share, format_draft_result, run_draft_benchmark
from app.core.inference.draft_policy import PAYS


def test_the_draft_benchmark_gives_each_task_s_figures_and_the_batch_costs(
    starter_gguf, zoo_model_file
):
    result = run_draft_benchmark(
        starter_gguf, rounds=1, max_tokens=16, draft_model=zoo_model_file("llama")
    )
    assert set(result["batch_cost"]) == {"2", "5", "9"}
    assert all(cost > 0 for cost in result["batch_cost"].values())
    for task in TASKS:
        row = result[task]
        assert row["tok_s_plain"] > 0 and row["tok_s_draft"] > 0 and row["tok_s_draft_model"] > 0
        # of the unrounded speeds: within the rounding of the two shown
        assert row["ratio"] == pytest.approx(row["tok_s_draft"] / row["tok_s_plain"], abs=2e-3)
        assert row["same_answers"] in (0, 1) and row["same_answers_draft_model"] in (0, 1)
        assert 0.0 <= row["copied"] <= 1.0
    text = format_draft_result(result)
    assert text.count("with the draft model") == len(TASKS)
    assert "a batch of 2 / 5 / 9 tokens costs" in text
    # Auto's choice follows the measured cost of a batch of 9
    assert result["auto"] == ("on" if result["batch_cost"]["9"] <= PAYS else "off")
    assert f"Drafting's Auto: {result['auto']} here" in text


def test_the_copied_share_counts_the_answer_s_tokens_a_lookup_in_the_prompt_guesses():
    prompt = [1, 2, 3, 4, 5, 6, 7, 8]
    # tokens 5 and 6 follow their 4 previous tokens in the prompt; 9 and 10 do not
    assert copied_share(prompt, [1, 2, 3, 4, 5, 6, 9, 10]) == 0.25
    assert copied_share(prompt, [9, 9, 9, 9, 9]) == 0.0
    assert copied_share(prompt, []) == 0.0
