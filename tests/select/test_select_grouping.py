"""Grouping of candidate patches by what they change (harness/diffs.py): the same fix written differently groups
together, a different fix does not. The diffs are real unified diffs made with difflib from before/after files."""

from __future__ import annotations

import difflib

from harness.diffs import get_change_key, group_patches, normalise_patch, parse_patch

ORIGINAL = '''\
def total(items, discount=None):
    """Sum the prices of items."""
    result = 0
    for item in items:
        result = result + item.price
    if discount == None:
        return result
    return result * discount
'''

FIX = ORIGINAL.replace("        result = result + item.price\n",
                       "        if item.price is not None:\n            result = result + item.price\n")


def make_diff(after: str, before: str = ORIGINAL, path: str = "shop/cart.py") -> str:
    source = f"a/{path}" if before else "/dev/null"
    lines = difflib.unified_diff(before.splitlines(True), after.splitlines(True), source, f"b/{path}")
    new_file = "" if before else "new file mode 100644\n"
    return f"diff --git a/{path} b/{path}\n{new_file}" + "".join(lines)


def test_the_same_fix_with_other_formatting_comments_names_or_expressions_groups_together():
    variants = {
        "formatting": FIX.replace("if item.price is not None:", "if (item.price  is not None) :"),
        "comment": FIX.replace("is not None:", "is not None:  # skip unpriced items"),
        "comment line": FIX.replace("        if item.price", "        # unpriced items add nothing\n        if item.price"),
        "equivalent expression": FIX.replace("if item.price is not None:", "if not item.price is None:"),
        "augmented assignment": FIX.replace("result = result + item.price", "result += item.price"),
    }
    keys = {name: get_change_key(make_diff(text)) for name, text in variants.items()}
    assert set(keys.values()) == {get_change_key(make_diff(FIX))}, keys


def test_a_new_local_name_and_a_docstring_edit_do_not_split_a_group():
    fix_a = ORIGINAL.replace("    return result * discount\n",
                             "    discounted = result * discount\n    return round(discounted, 2)\n")
    fix_b = ORIGINAL.replace('    """Sum the prices of items."""\n',
                             '    """Sum the prices of items, rounded to cents."""\n').replace(
        "    return result * discount\n", "    scaled = result * discount\n    return round(scaled, 2)\n")
    assert get_change_key(make_diff(fix_a)) == get_change_key(make_diff(fix_b))


def test_a_whole_function_rewritten_with_equivalent_code_groups_with_the_original_spelling():
    fix_a = ORIGINAL.replace("    if discount == None:\n        return result\n    return result * discount\n",
                             "    if discount is None:\n        return result\n    else:\n        return result * discount\n")
    fix_b = ORIGINAL.replace("    if discount == None:\n        return result\n    return result * discount\n",
                             "    if not discount is None:\n        return result * discount\n    else:\n"
                             "        return result\n")
    assert get_change_key(make_diff(fix_a)) == get_change_key(make_diff(fix_b))


def test_a_different_fix_does_not_group():
    other = ORIGINAL.replace("        result = result + item.price\n",
                             "        result = result + (item.price or 0)\n")
    wrong_operator = FIX.replace("is not None", "is None")
    keys = [get_change_key(make_diff(text)) for text in (FIX, other, wrong_operator)]
    assert len(set(keys)) == 3


def test_whitespace_tests_docs_and_scratch_files_are_not_part_of_the_change():
    fix = make_diff(FIX)
    blank_only = make_diff(ORIGINAL.replace("    result = 0\n", "    result = 0\n\n"))
    with_extras = (fix + make_diff("def test_x():\n    assert True\n", "", "tests/test_cart.py")
                   + make_diff("print('bug')\n", "", "reproduce_bug.py")
                   + make_diff("Fixed unpriced items.\n", "", "docs/changes.rst"))
    assert get_change_key("") == "" and get_change_key(blank_only) == ""
    assert get_change_key(with_extras) == get_change_key(fix)
    assert "shop/cart.py" in normalise_patch(with_extras) and "tests/" not in normalise_patch(with_extras)


def test_group_patches_puts_the_largest_group_first():
    other = make_diff(ORIGINAL.replace("result = 0", "result = 0.0"))
    patches = [other, make_diff(FIX), make_diff(FIX.replace("is not None:", "is not None:  # why")), ""]
    assert group_patches(patches) == [[1, 2], [0], [3]]


def test_a_hunk_that_does_not_match_its_counts_is_marked_malformed():
    fix = make_diff(FIX)
    broken = fix.replace("@@ -2,7 +2,8 @@", "@@ -2,7 +2,12 @@")
    assert broken != fix
    assert not parse_patch(fix)[0].malformed and parse_patch(broken)[0].malformed


def test_a_removed_line_starting_with_dashes_is_content_not_a_header():
    before = "x = 1\n-- y\nz = 3\n"
    patch = make_diff("x = 1\nz = 3\n", before, "notes/sql.py")
    files = parse_patch(patch)
    assert [f.path for f in files] == ["notes/sql.py"] and files[0].hunks[0].get("-") == ["-- y"]
