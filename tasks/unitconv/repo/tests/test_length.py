import pytest

from unitconv import UnknownUnit, convert


def test_km_to_m():
    assert convert(2, "km", "m") == 2000.0


def test_inches_to_cm():
    assert convert(1, "in", "cm") == 2.54


def test_mixing_families_is_refused():
    with pytest.raises(UnknownUnit):
        convert(1, "km", "C")
