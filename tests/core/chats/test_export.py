"""Exporting chats to Markdown and JSON files, from a real store."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.core.chats.export import export, is_secret_key, strip_secrets, to_json, to_markdown
from app.core.chats.store import ChatStore
from app.core.common.errors import ChatStoreError

CODE_ANSWER = """Here is a function:

```python
def greet(name):
    \"\"\"Say hello.\"\"\"
    return f"Hello, {name}!"   # trailing spaces  
```

And a shell line:

~~~bash
echo "## not a heading" | grep '#'
~~~
"""

SETTINGS = {
    "temperature": 0.2,
    "max_tokens": 512,
    "api_key": "sk-secret-1",
    "provider": {"Authorization": "Bearer secret-2", "hfToken": "hf_secret3", "url": "x"},
    "headers": [{"X-Api-Key": "secret-4", "accept": "json"}],
}


@pytest.fixture
def store(hearth_home):
    with ChatStore(hearth_home.chats_db) as chat_store:
        yield chat_store


@pytest.fixture
def chat_id(store):
    chat = store.create_chat(
        "Python greetings", model="qwen2.5-0.5b-q4_k_m.gguf", system_prompt="You write tidy code."
    )
    store.update_chat(chat.id, settings_json=json.dumps(SETTINGS))
    store.add_message(chat.id, "user", "Write a greet function")
    answer = store.begin_answer(chat.id)
    store.append_to_answer(answer, CODE_ANSWER)
    store.finish_answer(answer, {"tokens": 61, "tokens_per_second": 38.2}, "stop")
    store.add_message(chat.id, "user", "Now in Rust")
    cut = store.begin_answer(chat.id)
    store.append_to_answer(cut, "Sure:\n\n```rust\nfn greet(")  # interrupted mid code block
    return chat.id


def test_markdown_has_title_roles_and_code_verbatim(store, chat_id):
    text = to_markdown(store.get_chat(chat_id), store.messages(chat_id))
    assert text.startswith("# Python greetings\n")
    assert "`qwen2.5-0.5b-q4_k_m.gguf`" in text
    assert "## System prompt\n\nYou write tidy code.\n" in text
    assert "## User\n\nWrite a greet function\n" in text
    assert "## Assistant\n\n" + CODE_ANSWER in text  # byte for byte, trailing spaces included
    assert "## User\n\nNow in Rust\n" in text
    # The interrupted answer is marked, and its open code block closed so nothing after it
    # would be swallowed into the code.
    assert text.endswith("## Assistant (interrupted)\n\nSure:\n\n```rust\nfn greet(\n```\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## System prompt",
        "## User",
        "## Assistant",
        "## User",
        "## Assistant (interrupted)",
    ]
    assert "secret" not in text


def test_json_has_the_documented_shape(store, chat_id):
    data = json.loads(to_json(store.get_chat(chat_id), store.messages(chat_id)))
    assert data["format"] == "hearth-chat" and data["format_version"] == 1
    assert (data["title"], data["model"], data["system_prompt"]) == (
        "Python greetings",
        "qwen2.5-0.5b-q4_k_m.gguf",
        "You write tidy code.",
    )
    assert datetime.fromisoformat(data["created_at"]).utcoffset().total_seconds() == 0
    assert [(m["role"], m["complete"]) for m in data["messages"]] == [
        ("user", True),
        ("assistant", True),
        ("user", True),
        ("assistant", False),
    ]
    assert data["messages"][1]["content"] == CODE_ANSWER
    assert data["messages"][1]["stats"] == {
        "tokens": 61,
        "tokens_per_second": 38.2,
        "stop_reason": "stop",
    }
    assert data["messages"][3]["content"] == "Sure:\n\n```rust\nfn greet("
    for message in data["messages"]:
        assert set(message) == {"role", "content", "created_at", "stats", "complete"}
        datetime.fromisoformat(message["created_at"])


def test_secrets_never_leave_the_store(store, chat_id):
    text = to_json(store.get_chat(chat_id), store.messages(chat_id))
    assert "secret" not in text
    assert json.loads(text)["settings"] == {
        "temperature": 0.2,
        "max_tokens": 512,
        "provider": {"url": "x"},
        "headers": [{"accept": "json"}],
    }


@pytest.mark.parametrize(
    "key, secret",
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("OPENAI_API_KEY", True),
        ("token", True),
        ("hf_token", True),
        ("accessToken", True),
        ("Authorization", True),
        ("password", True),
        ("client_secret", True),
        ("max_tokens", False),
        ("tokens_per_second", False),
        ("top_k", False),
        ("model", False),
    ],
)
def test_is_secret_key(key, secret):
    assert is_secret_key(key) is secret


def test_strip_secrets_leaves_the_input_alone():
    settings = {"token": "x", "keep": [1, {"api_key": "y"}]}
    assert strip_secrets(settings) == {"keep": [1, {}]}
    assert settings == {"token": "x", "keep": [1, {"api_key": "y"}]}


@pytest.mark.parametrize(
    "name, parse",
    [
        ("chat.md", lambda text: text.startswith("# Python greetings")),
        ("chat.MARKDOWN", lambda text: text.startswith("# Python greetings")),
        ("chat.json", lambda text: json.loads(text)["title"] == "Python greetings"),
        ("Chat.JSON", lambda text: json.loads(text)["title"] == "Python greetings"),
    ],
)
def test_export_picks_the_format_by_suffix(store, chat_id, tmp_path, name, parse):
    target = tmp_path / "out" / name
    target.parent.mkdir()
    target.write_text("an older export")
    assert export(store, chat_id, target) == target
    assert parse(target.read_text(encoding="utf-8"))
    assert [p.name for p in target.parent.iterdir()] == [name]  # no temporary file left


def test_export_refuses_an_unknown_suffix(store, chat_id, tmp_path):
    with pytest.raises(ChatStoreError, match=r"\.md.*\.json"):
        export(store, chat_id, tmp_path / "chat.txt")
    assert list(tmp_path.glob("chat*")) == []


def test_export_to_a_missing_folder_is_a_plain_error(store, chat_id, tmp_path):
    with pytest.raises(ChatStoreError, match="Could not write"):
        export(store, chat_id, tmp_path / "missing" / "chat.md")
    assert not (tmp_path / "missing").exists()


def test_export_of_a_deleted_chat_is_a_plain_error(store, chat_id, tmp_path):
    store.delete_chat(chat_id)
    with pytest.raises(ChatStoreError, match="no longer exists"):
        export(store, chat_id, tmp_path / "chat.json")
    assert not (tmp_path / "chat.json").exists()
