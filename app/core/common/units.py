"""Numbers as people read them."""

_DECIMAL = ("B", "KB", "MB", "GB", "TB")


def _scaled(n: int | float, step: int, units: tuple[str, ...]) -> str:
    value = float(n)
    for unit in units:
        if value < step or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return ""


def format_size(n: int | float) -> str:
    """Decimal units, as file managers and the Hub show sizes: 4.9 GB. The one convention of
    the whole app, for files, RAM and VRAM alike (issue 19: one table showed MB beside MiB)."""
    return _scaled(n, 1000, _DECIMAL)
