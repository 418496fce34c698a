"""Helpers shared by the pipeline tests.

- A pipeline config over the bundled tasks and scripted models, its YAML file, the dataset rows, a slowed-down demo
  script, the first prompt of each conversation a model was sent, and the patches a run folder holds.
- An image built from a Dockerfile alone (`build_image`).
- A local two-node Ray cluster on loopback for the executor tests (`run_local_cluster`).
- A real registry on 127.0.0.1 (Debian's `docker-registry`, the distribution v2 server) with its own config and
  storage in a temporary folder, and a fault proxy in front of it that answers like Docker Hub when told to: its
  429 `toomanyrequests` body with `ratelimit-limit`/`ratelimit-remaining`/`Retry-After`, 5xx, slow bodies,
  dropped connections. `PullCounter` counts the engine's pull events per image. Images pushed are built from a
  bundled task image with one distinct file each.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import yaml

from harness.demo.models import make_demo_script
from harness.fileio import read_jsonl
from harness.scripted.server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
TASKS = ["patchmix__unitconv-1", "patchmix__daterange-1"]  # a one-hunk fix and a two-file fix
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


def make_config(api_base: str, name: str = "t", **overrides) -> dict:
    """Three iterations (three models, a merger drawing on them, a merger refining that) at 2 workers; any
    top-level key can be replaced through `overrides`."""
    model = {"api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01, **PRICE}
    config = {
        "name": name,
        "dataset": {"path": str(DATASET)},
        "instances": {"ids": TASKS},
        "defaults": {"limits": {"step_limit": 6}, "container": {"command_timeout": 30}},
        "models": {label: {"name": f"openai/{label}", **model} for label in ("fixer", "breaker", "tripper", "merger")},
        "iterations": [
            {"models": ["fixer", "breaker", "tripper"]},
            {"models": ["merger"], "instance_template": "instance_with_patches.j2", "draws_on": [1]},
            {"models": ["merger"], "instance_template": "instance_refine.j2", "draws_on": [2]},
        ],
        "workers": 2,
    }
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def load_rows() -> list[dict]:
    return [row for row in read_jsonl(DATASET) if row["instance_id"] in TASKS]


def make_slow_script(delay: float) -> dict:
    """The demo script with every reply delayed, so that a run is still under way when a test interrupts it."""
    script = make_demo_script(load_rows())
    for model in script["models"].values():
        for conversation in model:
            conversation["replies"] = [{**reply, "delay": delay} for reply in conversation["replies"]]
    return script


def first_prompts(server: ScriptedServer, model: str) -> list[str]:
    """The first user message of each conversation the model was asked about."""
    prompts = []
    for request in server.requests:
        messages = request["body"]["messages"]
        if request["model"] == model and not any(m["role"] == "assistant" for m in messages):
            prompts.append(next(m["content"] for m in messages if m["role"] == "user"))
    return prompts


def get_patches(run_dir: Path) -> dict:
    """{(iteration folder, model label, instance id): patch} of every preds.jsonl in a run folder."""
    return {(p.parent.parent.name, p.parent.name, row["instance_id"]): row["model_patch"]
            for p in sorted(run_dir.glob("iter_*/*/preds.jsonl")) for row in read_jsonl(p)}


# ---------------------------------------------------------------- an image from a Dockerfile


def build_image(client, dockerfile: str, tag: str) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    client.images.build(fileobj=archive, custom_context=True, tag=tag, rm=True, forcerm=True)


# ---------------------------------------------------------------- a local Ray cluster

SLOTS = {"patchmix_container": 2}
"""Each node's slots for containers (the executor's custom resource)."""


@contextmanager
def run_local_cluster():
    """A head and one more node, each with one CPU and SLOTS, both on 127.0.0.1; ray is connected to it."""
    # ray stays lazy: a heavy optional dependency, imported only by the tests that start a cluster
    import ray
    import ray._private.services as services
    from ray.cluster_utils import Cluster

    services.get_node_ip_address = lambda address=None: "127.0.0.1"  # the whole cluster stays on loopback
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": SLOTS,
                                                             "node_ip_address": "127.0.0.1"})
    cluster.add_node(num_cpus=1, resources=SLOTS, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, namespace="patchmix-test", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


# ---------------------------------------------------------------- a local registry and a fault proxy

HUB_429 = {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit. You may increase "
                       "the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}
TEST_REPO = "patchmix-test"


def get_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    """`docker-registry serve` on 127.0.0.1:<free port>, storage under `folder`."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, get_free_port()
        self.process = None

    def __enter__(self) -> "Registry":
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yml"
        config.write_text(json.dumps({
            "version": 0.1, "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(self.folder / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}"}}))
        self.log = open(self.folder / "registry.log", "w")
        self.process = subprocess.Popen([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve",
                                         str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{self.port}/v2/", self.process)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def wait_for(url: str, process, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the registry exited with {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.exceptions.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


class Faults:
    """What the proxy does to the next requests; each count is used up as it is served."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rate_limited = 0
        self.retry_after: str | None = "1"
        self.server_errors = 0
        self.dropped = 0
        self.slow_seconds = 0.0
        self.pull_delay = 0.0
        """Seconds added to each pull (to the manifest request by tag), like a real registry's transfer time."""
        self.served: Counter = Counter()

    def take(self, kind: str) -> bool:
        with self.lock:
            if getattr(self, kind) > 0:
                setattr(self, kind, getattr(self, kind) - 1)
                self.served[kind] += 1
                return True
            return False


def get_manifest_repo(path: str) -> str | None:
    """`pm/task-3` of `/v2/pm/task-3/manifests/v1`, None for other paths."""
    if not path.startswith("/v2/") or "/manifests/" not in path:
        return None
    return path[len("/v2/"):path.index("/manifests/")]


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""
    faults: Faults = Faults()

    def log_message(self, *args) -> None:
        return None

    def do_GET(self) -> None:
        self.forward("GET")

    def do_HEAD(self) -> None:
        self.forward("HEAD")

    def forward(self, method: str) -> None:
        repo = get_manifest_repo(self.path)
        if repo and self.faults.take("rate_limited"):
            return self.answer_429(method)
        if repo and self.faults.take("server_errors"):
            return self.answer(503, b'{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}', method)
        if repo and self.faults.pull_delay and "/manifests/sha256:" not in self.path:
            time.sleep(self.faults.pull_delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream = requests.request(method, self.upstream + self.path, headers=headers, stream=True,
                                    allow_redirects=False, timeout=60)
        body = upstream.raw.read(decode_content=False) if method == "GET" else b""
        self.send_response(upstream.status_code)
        for key, value in upstream.headers.items():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", upstream.headers.get("content-length", "0") if method == "HEAD"
                         else str(len(body)))
        self.end_headers()
        self.write_body(body, is_blob=not repo and "/blobs/" in self.path)

    def write_body(self, body: bytes, is_blob: bool) -> None:
        if is_blob and len(body) > 1024 and self.faults.take("dropped"):
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        step = max(1, len(body) // 10)
        for start in range(0, len(body), step):
            self.wfile.write(body[start:start + step])
            if is_blob and self.faults.slow_seconds:
                time.sleep(self.faults.slow_seconds / 10)

    def answer_429(self, method: str) -> None:
        extra = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600",
                 "docker-ratelimit-source": "127.0.0.1"}
        if self.faults.retry_after is not None:
            extra["Retry-After"] = self.faults.retry_after
        self.answer(429, json.dumps(HUB_429).encode(), method, extra)

    def answer(self, status: int, body: bytes, method: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method == "GET":
            self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # the engine hanging up mid-body is no fault of ours


class FaultProxy:
    """An HTTP proxy on 127.0.0.1:<free port> in front of `upstream` (host:port), with `faults` to set."""

    def __init__(self, upstream: str):
        self.faults = Faults()
        handler = type("Handler", (ProxyHandler,), {"upstream": f"http://{upstream}", "faults": self.faults})
        self.server = QuietServer(("127.0.0.1", get_free_port()), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


class PullCounter:
    """The engine's `pull` events of images whose name starts with `prefix`, counted per image while open."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix, self.pulls = client, prefix, Counter()
        self.stream = client.events(decode=True, filters={"type": "image", "event": "pull"})
        self.thread = threading.Thread(target=self.follow, daemon=True)

    def follow(self) -> None:
        for event in self.stream:
            name = event.get("id") or (event.get("Actor") or {}).get("ID", "")
            if name.startswith(self.prefix):
                self.pulls[name] += 1

    def __enter__(self) -> "PullCounter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # the engine's last events arrive
        self.stream.close()
        self.thread.join(timeout=10)


MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def push_variants(client, registry: str, bases: list[str], count: int, repo: str = "pm/task") -> list[str]:
    """Push `count` distinct images `<registry>/<repo>-<i>:v1`, image i being `bases[i % len(bases)]` with one
    file of its own on top. The bases are pushed once through the engine; each variant is then written straight
    to the registry's API (its layers mounted from the base, one new layer, a new config), so no container or
    local image is made on the way and using a variant means pulling it."""
    sources = [push_base(client, registry, base, f"pm/base-{number}") for number, base in enumerate(bases)]
    names = []
    for index in range(count):
        base_repo, manifest, config = sources[index % len(sources)]
        names.append(write_variant(registry, f"{repo}-{index}", base_repo, manifest, config, f"v{index}"))
    return names


def push_base(client, registry: str, image: str, repo: str) -> tuple[str, dict, dict]:
    """Push `image` as `<registry>/<repo>:v1`; its (repo, manifest, config) as the registry holds them."""
    remote = f"{registry}/{repo}:v1"
    client.images.get(image).tag(remote)
    try:
        for line in client.api.push(remote, stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"push of {remote}: {line['error']}")
    finally:
        client.images.remove(remote)
    url = f"http://{registry}/v2/{repo}"
    manifest = requests.get(f"{url}/manifests/v1", headers={"Accept": MANIFEST_V2}, timeout=60).json()
    config = requests.get(f"{url}/blobs/{manifest['config']['digest']}", timeout=60).json()
    return repo, manifest, config


def make_layer(marker: str) -> tuple[bytes, str]:
    """(gzipped tar holding /patchmix-variant with 64 KiB of its own, the uncompressed tar's digest)."""
    data = random.Random(marker).randbytes(64 * 1024)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("patchmix-variant")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0), "sha256:" + hashlib.sha256(raw).hexdigest()


def upload_blob(registry: str, repo: str, blob: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    start = requests.post(f"http://{registry}/v2/{repo}/blobs/uploads/", timeout=60)
    start.raise_for_status()
    location = start.headers["Location"]
    location = location if location.startswith("http") else f"http://{registry}{location}"
    joiner = "&" if "?" in location else "?"
    requests.put(f"{location}{joiner}digest={digest}", data=blob, timeout=60,
                 headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return digest


def write_variant(registry: str, repo: str, base_repo: str, manifest: dict, config: dict, marker: str) -> str:
    for layer in manifest["layers"]:
        requests.post(f"http://{registry}/v2/{repo}/blobs/uploads/",
                      params={"mount": layer["digest"], "from": base_repo}, timeout=60).raise_for_status()
    layer, diff_id = make_layer(f"{marker}-{registry}")
    config = json.loads(json.dumps(config))
    config["rootfs"]["diff_ids"].append(diff_id)
    config.setdefault("history", []).append({"created_by": f"patchmix-test variant {marker}"})
    config["config"]["Labels"] = {**(config["config"].get("Labels") or {}), "patchmix-test.variant": marker}
    config_blob = json.dumps(config).encode()
    new = {**manifest, "config": {**manifest["config"], "size": len(config_blob),
                                  "digest": upload_blob(registry, repo, config_blob)},
           "layers": [*manifest["layers"], {"mediaType": LAYER_GZIP, "size": len(layer),
                                            "digest": upload_blob(registry, repo, layer)}]}
    requests.put(f"http://{registry}/v2/{repo}/manifests/v1", data=json.dumps(new), timeout=60,
                 headers={"Content-Type": MANIFEST_V2}).raise_for_status()
    return f"{registry}/{repo}:v1"


def list_local(client, prefix: str) -> list[str]:
    """Local image tags that start with `prefix`."""
    # the low-level list: no inspect per image, which fails when another thread removes one meanwhile
    return sorted(tag for image in client.api.images() for tag in image.get("RepoTags") or [] if tag.startswith(prefix))


def remove_local(client, prefix: str) -> None:
    for tag in list_local(client, prefix):
        client.images.remove(tag, force=True)


def make_rows(bundled_rows, bases: list[str], count: int) -> list[dict]:
    """`count` copies of the bundled tasks, copy i on the task of base image i % 5, with a `variant` field."""
    by_image = {row["image"]: row for row in bundled_rows.values()}
    return [{**by_image[bases[i % len(bases)]], "instance_id": f"{by_image[bases[i % len(bases)]]['instance_id']}"
             f"-copy{i}", "variant": i} for i in range(count)]


def write_pipeline(tmp_path: Path, api_base: str, rows: list[dict], images: dict, name: str = "pulls",
                   workers: int = 2) -> Path:
    dataset = tmp_path / f"{name}.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    model = {"name": "openai/fixer", "api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01,
             **PRICE}
    config = {"name": name, "dataset": {"path": str(dataset)}, "models": {"fixer": model},
              "defaults": {"limits": {"step_limit": 8}, "container": {"command_timeout": 30}},
              "iterations": [{"models": ["fixer"]}], "workers": workers,
              "images": {"pulls_per_minute": 6000, "rate_limit_wait": 1, **images}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(config))
    return path


def read_statuses(run_dir: Path) -> dict[str, str]:
    return {p.name.removesuffix(".traj.json"): json.loads(p.read_text())["info"]["exit_status"]
            for p in run_dir.glob("iter_1/fixer/*.traj.json")}


class Poller:
    """Calls `sample()` every `every` seconds while a pipeline runs (between `__enter__` and `__exit__`)."""

    every = 0.2

    def __init__(self):
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def poll(self) -> None:
        while not self.done.wait(self.every):
            self.sample()

    def sample(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
