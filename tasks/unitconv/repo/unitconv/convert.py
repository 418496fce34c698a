"""The public entry point: picks the family of units and converts."""

from unitconv import length, temperature


class UnknownUnit(ValueError):
    pass


def convert(value, from_unit, to_unit):
    if from_unit in temperature.SCALES and to_unit in temperature.SCALES:
        celsius = temperature.to_celsius(value, from_unit)
        return round(temperature.from_celsius(celsius, to_unit), 6)
    if from_unit in length.METRES and to_unit in length.METRES:
        return round(length.convert_length(value, from_unit, to_unit), 6)
    raise UnknownUnit(f"cannot convert {from_unit!r} to {to_unit!r}")
