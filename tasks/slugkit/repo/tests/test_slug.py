from slugkit import slugify


def test_punctuation_becomes_one_separator():
    assert slugify("Hello, World!") == "hello-world"


def test_custom_separator():
    assert slugify("Release notes 2.0", separator="_") == "release_notes_2_0"


def test_max_length_cuts_at_a_word_boundary():
    assert slugify("one two three four", max_length=9) == "one-two"


def test_empty_text_gives_empty_slug():
    assert slugify("  ?!  ") == ""
