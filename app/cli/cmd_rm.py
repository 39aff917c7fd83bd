"""hearth rm: delete a local model, with the library's rules (``library.delete_model``).

Models Hearth owns (its models folder, the starter, the Hugging Face cache) are deleted. Another
app's or a user's folder's model is only removed from Hearth's list (the file stays where it is),
and the message says so; the list is kept in the settings, as the Models page keeps it.
"""

from __future__ import annotations

import sys

from app.core.common.errors import ModelNotFound
from app.core.common.paths import Paths
from app.core.common.units import format_size
from app.core.config.settings import Settings
from app.core.library import catalog


def add_parser(commands):
    parser = commands.add_parser(
        "rm",
        help="Delete a local model",
        description="Delete a model from the Hugging Face cache or Hearth's models folder. "
        "A model in another app's folder (LM Studio, Ollama) or one of your folders "
        "is only removed from Hearth's list: its file is not deleted.",
    )
    parser.add_argument("model", help="a model name from 'hearth ls' (or part of one)")
    parser.add_argument("-y", "--yes", action="store_true", help="do it without asking")
    return parser


def _question(model: catalog.LocalModel) -> str:
    files = [f for f in model.all_files if f.exists()]
    if model.source in catalog.OWNED:
        size = sum(f.stat().st_size for f in files)
        return f"Delete {model.name} ({format_size(size)}, {len(files)} file(s))? [y/N] "
    app = catalog.APP_NAMES.get(model.source, model.source)
    return f"Remove {model.name} from Hearth's list? Its file stays at {model.path} ({app}). [y/N] "


def run(args, paths: Paths) -> int:
    settings = Settings.load(paths.settings_file)
    models = catalog.list_for_user(paths, settings)
    path = catalog.resolve(args.model, models)
    model = next((m for m in models if m.path == path), None)
    if model is None:
        raise ModelNotFound(
            f"{path} is not a model of your library; Hearth only deletes the models it lists."
        )
    if not args.yes:
        if not sys.stdin.isatty():
            print("Not deleting without confirmation: add -y.", file=sys.stderr)
            return 1
        if input(_question(model)).strip().lower() not in ("y", "yes"):
            print("Nothing deleted.", file=sys.stderr)
            return 1
    outcome = catalog.delete_model(model)
    if outcome.hidden and outcome.hidden not in settings.hidden_models:
        settings.hidden_models.append(outcome.hidden)
        settings.save(paths.settings_file)
    print(outcome.message)
    return 0
