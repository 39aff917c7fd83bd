"""Numbers as people read them."""

_DECIMAL = ("B", "KB", "MB", "GB", "TB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB")


def _scaled(n: int | float, step: int, units: tuple[str, ...]) -> str:
    value = float(n)
    for unit in units:
        if value < step or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return ""


def format_size(n: int | float) -> str:
    """Decimal units, as file managers and the Hub show sizes: 4.9 GB."""
    return _scaled(n, 1000, _DECIMAL)


def format_memory(n: int | float) -> str:
    """RAM and VRAM in binary units, as vendors and drivers count them: 24.0 GiB."""
    return _scaled(n, 1024, _BINARY)
