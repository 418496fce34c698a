"""`patchmix build-images`: argument parsing and printing; the images are built by the modules beside."""

from __future__ import annotations

from pathlib import Path

from harness.resources import get_bundled_dir


def add_parser(subparsers) -> None:
    build = subparsers.add_parser("build-images", help="build the base image and the bundled tasks' images")
    build.add_argument("--tasks", default=str(get_bundled_dir("tasks")))
    build.add_argument("--force", action="store_true", help="rebuild images that exist")
    build.add_argument("--python-only", action="store_true",
                       help="skip the images of the tasks in other languages and of the SWE-bench Pro tasks")
    build.set_defaults(func=cmd_build_images)


def cmd_build_images(args) -> int:
    from harness.tasks.images import build_images  # lazy: command
    # lazy: command
    from harness.tasks.multilingual import MULTILINGUAL_DIR, MULTILINGUAL_ROWS, build_multilingual_images
    from harness.tasks.proimages import ROWS_FILE, build_pro_images  # lazy: command
    rows = build_images(Path(args.tasks), force=args.force)
    print(f"{len(rows)} task images ready; dataset rows in {Path(args.tasks) / 'bundled.jsonl'}")
    if not args.python_only and (Path(args.tasks) / MULTILINGUAL_DIR).is_dir():
        rows = build_multilingual_images(Path(args.tasks), force=args.force)
        print(f"{len(rows)} task images in other languages ready; rows in {Path(args.tasks) / MULTILINGUAL_ROWS}")
    if not args.python_only and (Path(args.tasks) / "pro").is_dir():
        pro = build_pro_images(Path(args.tasks) / "pro", force=args.force)
        print(f"{len(pro)} SWE-bench Pro task images ready; rows in {Path(args.tasks) / 'pro' / ROWS_FILE}")
    return 0
