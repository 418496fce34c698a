"""Network fetches added to the source of the languages beyond Python: a line that calls a language's fetch API
(`http.Get(` in Go, `fetch(` or `https.get(` in JavaScript, `reqwest::get(` in Rust, `file_get_contents(` or
`curl_init(` in PHP, `Net::HTTP`/`URI.open` in Ruby, `new URL(...).openConnection` in Java, libcurl in C) on a
literal URL. Fetching a fixed address from library code is how a patch would pull a fix (or a verdict) from
outside at test time; a client library's own fetches take their address from the caller, so they are not
flagged. The lines are matched by pattern (no parser of these languages here): a call and a quoted
`http(s)://` literal on the same added line. Files named as tests are not scanned (a test's fetch from a local
server is ordinary). Measured: none of the 300 Multilingual gold patches, nor the 58 Go/JavaScript/TypeScript
ones of the Pro sample, adds a fetch call at all.
"""

from __future__ import annotations

import posixpath
import re

from harness.agent.integrity.testfiles import is_test_name

FETCH_CALLS = {
    ".go": r"\bhttp\.(?:Get|Post|Head|PostForm|NewRequest(?:WithContext)?)\s*\(|\bnet\.Dial\w*\s*\(",
    ".js": r"(?<![\w.])fetch\s*\(|\bhttps?\.(?:get|request)\s*\("
           r"|require\(\s*['\"]https?['\"]\s*\)\.(?:get|request)\s*\(|\baxios(?:\.\w+)?\s*\(|\bXMLHttpRequest\b",
    ".rs": r"\breqwest::(?:blocking::)?get\s*\(|\bTcpStream::connect\s*\(|\bureq::get\s*\(",
    ".php": r"\bfile_get_contents\s*\(|\bcurl_init\s*\(|\bfopen\s*\(|\bfsockopen\s*\(",
    ".rb": r"\bNet::HTTP\b|\bURI\.open\s*\(|(?<![\w.])open\s*\(|\bHTTParty\b|\bFaraday\b",
    ".java": r"\.openConnection\s*\(|\.openStream\s*\(|\bHttpClient\b|\bnew\s+Socket\s*\(",
    ".c": r"\bcurl_easy_setopt\s*\(|\bconnect\s*\(|\bgethostbyname\s*\(",
}
EXTENSIONS = {".go": ".go", ".js": ".js", ".mjs": ".js", ".cjs": ".js", ".jsx": ".js", ".ts": ".js", ".mts": ".js",
              ".cts": ".js", ".tsx": ".js", ".vue": ".js", ".rs": ".rs", ".php": ".php", ".rb": ".rb",
              ".java": ".java", ".kt": ".java", ".scala": ".java", ".c": ".c", ".h": ".c", ".cc": ".c",
              ".cpp": ".c", ".hpp": ".c"}
URL_LITERAL = re.compile(r"[\"'`]https?://[^\"'`\s]+")


def scan_network(path: str, added: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(line, detail) of each added line of a source file of these languages that fetches a literal URL."""
    language = EXTENSIONS.get(posixpath.splitext(path)[1])
    if language is None or is_test_name(path):
        return []
    call = re.compile(FETCH_CALLS[language])
    found = []
    for number, text in added:
        match, url = call.search(text), URL_LITERAL.search(text)
        if match and url:
            found.append((number, f"{match.group(0).rstrip('( ')} fetches {url.group(0)[1:80]}"))
    return found
