"""A line-oriented parser: sections in brackets, `key = value` pairs, `;` and `#` comments."""

COMMENT_CHARS = (";", "#")


class ParseError(ValueError):
    def __init__(self, lineno, message):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


def strip_comment(line):
    for char in COMMENT_CHARS:
        cut = line.find(" " + char)
        if cut != -1:
            line = line[:cut]
    return line.strip()


def parse_pair(line, lineno):
    if "=" not in line:
        raise ParseError(lineno, f"expected 'key = value', got {line!r}")
    parts = line.split("=")
    key, value = parts[0].strip(), parts[1].strip()
    if not key:
        raise ParseError(lineno, "empty key")
    return key.lower(), value


def parse(text):
    sections = {}
    current = sections.setdefault("DEFAULT", {})
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw)
        if not line or line[0] in COMMENT_CHARS:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        key, value = parse_pair(line, lineno)
        current[key] = value
    return sections
