"""Prompt-lookup drafting (``LoadOptions.draft_tokens``) on the real starter model.

Drafting must not change what greedy decoding picks. It cannot keep the answer token for token
the same everywhere on llama.cpp's CPU build: a drafted step decodes several positions in one
batch, and a batch's logits differ from one-token decodes in the last digits, which flips a
near-tie (measured: the revision below, 19 tokens in, " *" and "." 0.08 apart of logits near
35; the plain model picks "." too when the same text is decoded as one prompt). So the tests
hold the answers to being the same up to their first difference, and that difference to be a
near-tie of the plain model's own logits: a draft kept that greedy decoding would not pick
makes a difference where one token clearly leads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.bench.draft import TASKS
from app.core.config.limits import InvalidValue
from app.core.inference.engine import Engine, chat_prompt
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.prompt_lookup import PAUSE, PromptLookup
from app.core.inference.types import LoadOptions, SamplingOptions

GREEDY = SamplingOptions(temperature=0.0, max_tokens=64, seed=1)
NEAR_TIE = 0.5  # logits; the flips measured were 0.08 apart, a clear lead is several


def answer(engine: Engine | HostedEngine, question: str) -> list[str]:
    pieces: list[str] = []
    engine.chat([{"role": "user", "content": question}], GREEDY, pieces.append)
    return pieces


@pytest.fixture(scope="module")
def draft_gguf(zoo_model_file) -> Path:
    """A draft model for the starter: the zoo's tiny llama (random weights, its tokenizer)."""
    return zoo_model_file("llama")


@pytest.fixture(scope="module")
def plain(starter_gguf: Path):
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024))
    yield engine
    engine.unload()


def lead_of_top_token(engine: Engine, question: str, answered: str) -> float:
    """How far the plain model's first choice after ``answered`` leads its second, in logits."""
    import llama_cpp

    llm = engine._llm  # the loaded model, read after the answers it gave
    assert llm is not None
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    text = chat_prompt(llm, messages, True) + answered
    llm.reset()
    llm.eval(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
    logits = np.ctypeslib.as_array(
        llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
    )
    second, first = np.sort(logits)[-2:]
    return float(first - second)


@pytest.mark.parametrize("task", list(TASKS))
def test_drafted_answer_is_the_greedy_answer_up_to_a_near_tie(plain, starter_gguf, task):
    question = TASKS[task]
    drafted = HostedEngine()  # the setting crosses the host's JSON wire as a user's load does
    drafted.load(starter_gguf, LoadOptions(n_ctx=1024, draft_tokens=8))
    try:
        with_drafts = answer(drafted, question)
    finally:
        drafted.unload()
    assert_same_up_to_a_near_tie(plain, question, answer(plain, question), with_drafts)


def assert_same_up_to_a_near_tie(
    plain: Engine, question: str, without: list[str], with_drafts: list[str]
) -> None:
    same = next(
        (i for i, (a, b) in enumerate(zip(without, with_drafts, strict=False)) if a != b),
        min(len(without), len(with_drafts)),
    )
    if same == len(without) == len(with_drafts):
        return  # token for token the same
    assert same >= 8, (without, with_drafts)
    lead = lead_of_top_token(plain, question, "".join(without[:same]))
    assert lead < NEAR_TIE, (same, without[same], with_drafts[same], lead)


def decodes_of(engine: Engine) -> list[int]:
    """The size of each batch the loaded model decodes from now on (the first: the prompt)."""
    llm = engine._llm
    assert llm is not None
    sizes: list[int] = []
    evaluate = llm.eval
    llm.eval = lambda tokens: (sizes.append(len(tokens)), evaluate(tokens))[1]  # type: ignore[method-assign]
    return sizes


@pytest.mark.parametrize("task", list(TASKS))
def test_a_draft_model_leaves_the_greedy_answer_as_it_was(plain, starter_gguf, draft_gguf, task):
    """The zoo's tiny llama (random weights, the starter's tokenizer) guesses for the starter:
    its guesses are nearly all wrong, so nearly every step decodes them and throws them away,
    and the answer is still the starter's own."""
    question = TASKS[task]
    drafted = Engine()
    drafted.load(
        starter_gguf, LoadOptions(n_ctx=1024, draft_model_path=str(draft_gguf), draft_tokens=4)
    )
    try:
        decodes = decodes_of(drafted)
        with_drafts = answer(drafted, question)
    finally:
        drafted.unload()
    assert max(decodes[1:]) == 1 + 4  # the model's token and the 4 guesses, in one batch
    assert_same_up_to_a_near_tie(plain, question, answer(plain, question), with_drafts)


def test_a_draft_model_of_another_vocabulary_is_refused_in_one_sentence(starter_gguf, tmp_path):
    from app.bench.zoo import SIZES
    from app.bench.zoo.write import write_model
    from app.core.common.errors import ModelLoadError

    other = write_model("llama", SIZES["tiny"], starter_gguf, tmp_path / "other.gguf", vocab=1000)
    engine = Engine()
    with pytest.raises(ModelLoadError, match=r"^The draft model other\.gguf cannot draft for "):
        engine.load(starter_gguf, LoadOptions(n_ctx=256, draft_model_path=str(other)))
    assert engine.loaded is None


def test_drafts_are_kept_on_a_revision(starter_gguf):
    """On the revision, steps decode several kept tokens: fewer decodes than tokens."""
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, draft_tokens=8))
    try:
        decodes = decodes_of(engine)
        pieces: list[str] = []
        stats = engine.chat([{"role": "user", "content": TASKS["copy"]}], GREEDY, pieces.append)
    finally:
        engine.unload()
    assert stats.tokens == GREEDY.max_tokens
    assert len(decodes) - 1 < stats.tokens  # the first decode is the prompt
    assert max(decodes[1:]) > 1


def test_a_chat_longer_than_a_batch_is_answered_with_drafting(starter_gguf):
    """llama-cpp-python keeps n_batch rows of logits unless told to keep them all: a drafted
    chat past n_batch tokens failed ("could not broadcast") before the engine said so."""
    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024, n_batch=64, draft_tokens=8))
    try:
        pieces = answer(engine, TASKS["copy"])
    finally:
        engine.unload()
    assert len(pieces) > 8


def test_drafts_only_on_a_repeated_run_of_four_tokens():
    """Each call an answer's first: all but its last token is the prompt."""
    lookup = PromptLookup(tokens=4)

    def first_guess(ids: list[int]) -> list[int]:
        lookup.start_answer()
        return lookup(np.array(ids, dtype=np.intc)).tolist()

    assert first_guess([5, 6, 7, 8, 9, 10, 11, 12, 1, 5, 6, 7, 8]) == [9, 10, 11, 12]
    # A run of 3 tokens seen before is no evidence: no draft, no batch decoded for nothing.
    assert first_guess([5, 6, 7, 9, 10, 11, 12, 1, 5, 6, 7]) == []
    # The latest earlier appearance wins.
    ids = [1, 2, 3, 4, 20, 21, 22, 23, 1, 2, 3, 4, 30, 31, 32, 33, 1, 2, 3, 4]
    assert first_guess(ids) == [30, 31, 32, 33]
    # A guess of fewer than 4 tokens would cost more than it could save.
    assert first_guess([7] * 6) == []


def test_guesses_grow_when_kept_whole_shrink_to_what_was_kept_and_pause_after_a_miss():
    """A batch costs a CPU nearly as much as its tokens one by one: guess only what pays.
    The prompt: ``text`` and its first 3 tokens."""
    lookup = PromptLookup(tokens=16)
    text = list(range(100, 140))
    chat = text + text[:4]
    lookup.start_answer()
    assert lookup(np.array(chat, dtype=np.intc)).tolist() == text[4:20]
    chat += text[4:9] + [999]  # 5 kept, then the model went its own way
    chat += text[:4]
    assert lookup(np.array(chat, dtype=np.intc)).tolist() == text[4:9]  # as many as were kept
    chat += text[4:9] + [text[9]]  # all 5 kept (and the model's own next token)
    assert lookup(np.array(chat, dtype=np.intc)).tolist() == text[10:20]  # twice as many
    chat += text[10:12] + [999]  # 2 kept: fewer than a guess must be
    for _ in range(4):  # four steps without a guess, though the chat repeats itself
        chat += [text[0]]
        assert lookup(np.array(chat + text[1:4], dtype=np.intc)).tolist() == []
    chat += [text[0]]
    guess = lookup(np.array(chat + text[1:4], dtype=np.intc)).tolist()
    # 10 again, from the prompt's 100 101 102 103 (the answer's own are not looked in)
    assert guess == text[4:14]


@pytest.mark.parametrize("count", [-2, 65, 2.5, True])
def test_a_draft_count_out_of_range_is_refused_in_one_sentence(count):
    with pytest.raises(InvalidValue, match=r"^The count of drafted tokens must be .*\.$"):
        LoadOptions(draft_tokens=count)


def test_guesses_come_from_the_prompt_and_from_the_answer_only_on_a_long_run():
    """A story echoing its own phrase makes no guess; a run of 4 of the prompt does, and a run
    of 8 of the answer's own (a revision writing the same line twice)."""
    prompt = list(range(100, 140))
    phrase = [7, 8, 9, 10, 11, 12]
    lookup = PromptLookup(8)
    lookup.start_answer()
    answer = [1, *phrase, 2, 3, *phrase]  # the phrase twice, never in the prompt
    steps = [lookup(np.array(prompt + answer[:n], dtype=np.intc)) for n in range(1, len(answer))]
    assert all(len(guess) == 0 for guess in steps)
    copying = [*answer, *prompt[10:14]]  # then the answer copies 4 tokens of the prompt
    assert list(lookup(np.array(prompt + copying, dtype=np.intc))) == prompt[14:22]
    line = list(range(50, 60))
    lookup.start_answer()
    lookup(np.array([*prompt, 1], dtype=np.intc))  # the answer's first call
    own = [1, *line, 2, *line[:8]]  # a line of its own, and its first 8 tokens again
    assert list(lookup(np.array(prompt + own, dtype=np.intc))) == [*line[8:], 2, *line[:5]]


def test_each_answer_starts_where_its_prompt_ends():
    """The second answer's prompt holds the first answer: its runs are guessed from."""
    lookup = PromptLookup(8)
    first = list(range(100, 120))
    lookup.start_answer()
    lookup(np.array([*first, 5], dtype=np.intc))
    second = [*first, 5, 6, 7, 8, 9, 10, 11, 12, 13, 200, 201]  # the first answer is in it now
    lookup.start_answer()
    lookup(np.array(second, dtype=np.intc))
    guess = lookup(np.array([*second, 5, 6, 7, 8], dtype=np.intc))
    assert list(guess) == [9, 10, 11, 12, 13, 200]  # 201: the second answer's first token


def test_auto_drafts_where_this_machine_s_batch_cost_pays(plain, starter_gguf):
    """Auto measures a batch's cost once at load, drafts only where it pays, and leaves the
    context as it found it: the greedy answer is the plain one up to a near-tie."""
    from app.core.inference import draft_policy
    from app.core.inference.types import AUTO_DRAFT, DRAFT_TOKENS

    engine = Engine()
    loaded = engine.load(starter_gguf, LoadOptions(n_ctx=1024, draft_tokens=AUTO_DRAFT))
    try:
        cost = draft_policy.batch_cost(engine._llm, starter_gguf, loaded.n_threads, 0)
        assert cost > 0
        wanted = DRAFT_TOKENS if draft_policy.drafting_pays(cost) else 0
        assert loaded.draft_tokens == wanted
        # why, as Chat's status line says it: the measure taken at load, the bar it is held to
        at_load = draft_policy.batch_cost(
            engine._llm, starter_gguf, loaded.n_threads, loaded.gpu_layers
        )  # remembered from the load
        assert f"a batch of 9 tokens costs {at_load:.1f} one-token decodes here" in (
            loaded.draft_auto_reason
        )
        assert f"pays at {draft_policy.PAYS:g} or fewer" in loaded.draft_auto_reason
        question = TASKS["copy"]
        assert_same_up_to_a_near_tie(
            plain, question, answer(plain, question), answer(engine, question)
        )
    finally:
        engine.unload()


def test_drafting_turned_on_after_a_plain_load_keeps_guesses_on_a_revision(starter_gguf):
    """What Auto does where batches pay: the model loaded plain, drafting turned on after."""
    from app.core.compat.llama_cpp import start_drafting

    engine = Engine()
    engine.load(starter_gguf, LoadOptions(n_ctx=1024))
    try:
        llm = engine._llm
        assert llm is not None
        start_drafting(llm, PromptLookup(8))
        assert llm.scores.nbytes == 1024 * llm.n_vocab() * 4  # the logits the fit counts
        decodes = decodes_of(engine)
        engine.chat([{"role": "user", "content": TASKS["copy"]}], GREEDY, lambda _: None)
    finally:
        engine.unload()
    assert max(decodes[1:]) > 1  # guesses decoded with the model's token


def test_the_fit_estimate_counts_drafting_s_logits(starter_gguf):
    from dataclasses import replace

    from app.core.fit import estimate

    shape = estimate.shape_from_file(starter_gguf)
    plain, drafting = (estimate.estimate(s, 2048) for s in (shape, replace(shape, all_logits=True)))
    # a row of float32 logits per token of the context (llama-cpp-python) and of a batch
    assert drafting.ram_bytes - plain.ram_bytes == (2048 + 512) * shape.n_vocab * 4


def test_auto_measures_a_model_whose_vocabulary_is_small(starter_gguf, tmp_path):
    """Auto's measuring decodes take ids the vocabulary has: a model of 1,000 tokens loads."""
    from app.bench.zoo import SIZES
    from app.bench.zoo.write import write_model
    from app.core.inference.types import AUTO_DRAFT

    small = write_model("llama", SIZES["tiny"], starter_gguf, tmp_path / "small.gguf", vocab=1000)
    engine = Engine()
    loaded = engine.load(small, LoadOptions(n_ctx=256, draft_tokens=AUTO_DRAFT))
    try:
        stats = engine.complete("a b c", GREEDY, lambda _: None)
    finally:
        engine.unload()
    assert loaded.draft_tokens in (0, 8)
    assert stats.tokens > 0


def _searched_guess(ids: np.ndarray, prompt_end: int, size: int) -> list[int]:
    """The lookup by its definition, searched with numpy: the tokens after the latest earlier
    run in the prompt of the chat's last 6 (down to 4) tokens, else after its last 8 in the
    whole chat; ``size`` of them at most."""
    prompt = ids[:prompt_end]
    for run in range(min(6, len(prompt) - 1), 3, -1):
        windows = np.lib.stride_tricks.sliding_window_view(prompt[:-1], run)
        starts = np.nonzero(np.all(windows == ids[-run:], axis=1))[0]
        if len(starts):
            return prompt[int(starts[-1]) + run :][:size].tolist()
    if len(ids) > 8:
        windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], 8)
        starts = np.nonzero(np.all(windows == ids[-8:], axis=1))[0]
        if len(starts):
            return ids[int(starts[-1]) + 8 :][:size].tolist()
    return []


@settings(max_examples=300, deadline=None)
@given(
    chats=st.lists(
        st.tuples(
            st.lists(st.integers(0, 3), min_size=1, max_size=40),  # the prompt's new tokens
            st.lists(st.integers(0, 3), min_size=1, max_size=40),  # the answer
        ),
        min_size=1,
        max_size=3,
    )
)
def test_the_indexed_lookup_guesses_what_a_search_of_the_chat_finds(chats):
    """Generated chats over a 4-token alphabet (runs repeat often), answers grown a token at a
    time and answer after answer: each guess is what the plain search finds, cut to the size
    the guessing policy chose (never longer, and empty only where the policy holds back)."""
    lookup = PromptLookup(16)
    chat: list[int] = []
    for new, answer in chats:
        chat += new
        lookup.start_answer()
        prompt_end = len(chat) - 1
        for token in answer:
            ids = np.array(chat, dtype=np.intc)
            pausing = lookup._pause > 0
            guess = lookup(ids).tolist()
            searched = _searched_guess(ids, prompt_end, 16)
            if guess:
                assert guess == searched[: len(guess)]
            elif len(searched[: lookup._size]) >= 4:  # held back: a pause, or one begun now
                assert pausing or lookup._pause == PAUSE - 1, f"no guess of {searched}"
            chat.append(token)
