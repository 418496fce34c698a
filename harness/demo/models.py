"""The key-free demo: scripted models that behave differently on the bundled tasks.

The scripts are derived from each task's gold patch, so the demo shows the machinery (three iterations,
prompts with earlier patches, breakers, salvaged patches, scoring, reports) with no provider. They are not
a model's judgement, and the README says so.

- `fixer` makes the fix hunk by hunk with `str_replace`, checks with `git diff`, and submits;
- `breaker` inserts an import of a module that does not exist at the top of the first file it should fix,
  and submits (its patch resolves nothing and breaks the module);
- `tripper` makes the first hunk of the fix, then keeps looking around until the step limit cuts it off
  (a salvaged `breaker:step_limit` patch: complete for one-hunk fixes, partial otherwise);
- `merger` (iterations 2 and 3) reads the patches in its prompt, makes the fix and submits.

So that the report has something to show (overlap, new fixes against regressions, an oracle gap), each model
behaves differently on a few tasks, as listed in `ODD_ONES`: there `fixer` only looks around and submits no
change, `breaker` makes the right fix, and `merger` breaks the module instead.
"""

from __future__ import annotations

from unidiff import PatchSet

WORKDIR = "/testbed"
REFINE_MARK = "Review the patch critically"  # a phrase only the refine prompt (iteration 3) has
# Per scripted model, the bundled tasks (by repository name) on which it does the other thing.
ODD_ONES = {
    "fixer": {"slugkit"},
    "breaker": {"iniparse", "unitconv"},
    "merger_iteration_2": {"unitconv"},
    "merger_iteration_3": {"daterange"},
}


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def make_fix_calls(row: dict) -> list[dict]:
    """One str_replace per hunk of the gold patch: the hunk's old lines become its new lines."""
    calls = []
    for patched in PatchSet(row["patch"]):
        for hunk in patched:
            old = "".join(line.value for line in hunk.source_lines())
            new = "".join(line.value for line in hunk.target_lines())
            calls.append(call("str_replace_editor", command="str_replace",
                              path=f"{WORKDIR}/{patched.path}", old_str=old, new_str=new))
    return calls


def make_fixer(row: dict) -> list[dict]:
    first = PatchSet(row["patch"])[0].path
    return [call("bash", command=f"grep -n . {first} | head -40"), *make_fix_calls(row),
            call("bash", command="git diff --stat"), call("submit")]


def make_breaker(row: dict) -> list[dict]:
    first = PatchSet(row["patch"])[0].path
    return [call("str_replace_editor", command="insert", path=f"{WORKDIR}/{first}", insert_line=0,
                 new_str="import patchmix_demo_missing_module  # a careless edit\n"),
            call("submit")]


def make_looker(row: dict) -> list[dict]:
    return [call("bash", command="git log --oneline | head -3 && ls"), call("submit")]


def make_tripper(row: dict) -> list[dict]:
    return [make_fix_calls(row)[0], call("bash", command="git status --short && ls")]


def get_issue_title(row: dict) -> str:
    return row["problem_statement"].strip().splitlines()[0]


def is_odd(model: str, row: dict) -> bool:
    return row["repo"].split("/")[-1] in ODD_ONES.get(model, set())


def make_demo_script(rows: list[dict]) -> dict:
    """The scripted server's script for the demo models over these rows."""
    models = {"fixer": [], "breaker": [], "tripper": [], "merger": []}
    for row in rows:
        title = get_issue_title(row)
        models["fixer"].append({"match": title,
                                "replies": make_looker(row) if is_odd("fixer", row) else make_fixer(row)})
        models["breaker"].append({"match": title,
                                  "replies": make_fixer(row) if is_odd("breaker", row) else make_breaker(row)})
        models["tripper"].append({"match": title, "replies": make_tripper(row), "loop_last": True})
        for iteration, mark in ((3, [title, REFINE_MARK]), (2, title)):  # the refine prompt is matched first
            odd = is_odd(f"merger_iteration_{iteration}", row)
            models["merger"].append({"match": mark, "replies": make_breaker(row) if odd else make_fixer(row)})
    return {"models": models}
