"""How durations are written for people (progress lines, reports): one formatter for every stage."""


def format_duration(seconds: float) -> str:
    """h:mm:ss"""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
