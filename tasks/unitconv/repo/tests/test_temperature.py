from unitconv import convert


def test_celsius_to_fahrenheit():
    assert convert(100, "C", "F") == 212.0


def test_celsius_to_kelvin():
    assert convert(0, "C", "K") == 273.15


def test_same_scale_is_identity():
    assert convert(300, "K", "K") == 300.0
