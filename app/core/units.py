"""Numbers as people read them."""


def format_size(n: int | float) -> str:
    """Decimal units, as file managers and the Hub show sizes: 4.9 GB."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""
