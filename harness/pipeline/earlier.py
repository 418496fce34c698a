"""What a prompt shows of one earlier run: its patch (cut to a size), its summary, how it ended.

The iteration's `show_earlier` (a template variable too) says which: `patches` (runs without a patch are left
out), `summaries` (runs without a summary are left out) or `both` (runs with either).
"""

from __future__ import annotations


def cap_patch(patch: str, limit: int) -> tuple[str, int]:
    if len(patch) <= limit:
        return patch, 0
    return patch[:limit], len(patch) - limit


def has_content(info: dict, show: str) -> bool:
    patch, summary = bool(info.get("patch")), bool(info.get("summary"))
    return {"patches": patch, "summaries": summary}.get(show, patch or summary)


def make_candidate(info: dict, iteration: int, label: str, max_patch_chars: int, show: str = "patches") -> dict | None:
    """The prompt's record of one finished earlier run, or None when it has nothing to show."""
    if not has_content(info, show):
        return None
    patch, cut = cap_patch(info.get("patch") or "", max_patch_chars)
    return {"iteration": iteration, "model": label, "exit_status": info["exit_status"],
            "patch_label": info.get("patch_label"), "patch": patch, "cut_chars": cut,
            "summary": info.get("summary"), "agreed_models": info.get("agreed_models") or []}
