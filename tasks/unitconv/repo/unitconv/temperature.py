"""Temperature scales. Every conversion goes through Celsius."""

SCALES = ("C", "F", "K")


def to_celsius(value, scale):
    if scale == "C":
        return float(value)
    if scale == "F":
        return value - 32 * 5 / 9
    if scale == "K":
        return value - 273.15
    raise ValueError(f"not a temperature scale: {scale}")


def from_celsius(value, scale):
    if scale == "C":
        return float(value)
    if scale == "F":
        return value * 9 / 5 + 32
    if scale == "K":
        return value + 273.15
    raise ValueError(f"not a temperature scale: {scale}")
