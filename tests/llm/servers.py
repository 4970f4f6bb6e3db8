"""Local OpenAI-compatible servers for tests: a scripted fake and the real llama.cpp server.

Both bind 127.0.0.1 only and stop when their ``with`` block ends, so tests exercise the real
client stack (LangChain -> openai SDK -> httpx -> socket) without ever reaching a network model.

``ScriptedOpenAIServer`` answers ``POST /v1/chat/completions`` from a queue of behaviours, one per
request (``tool_call``, ``text``, ``invalid_json``, ``truncated``, ``wrong_schema``, ``slow``,
``http_error``, ``garbage``, ``disconnect``), and records every request body in ``requests``.
``LlamaCppServer`` runs ``python -m llama_cpp.server`` as a subprocess on a free port.
"""

from __future__ import annotations

import collections
import ctypes
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from copilot.llm.local_chat import default_threads

__all__ = [
    "Behaviour",
    "Completion",
    "Disconnect",
    "HttpError",
    "LlamaCppServer",
    "Raw",
    "ScriptedOpenAIServer",
    "Slow",
    "disconnect",
    "free_port",
    "garbage",
    "http_error",
    "invalid_json",
    "slow",
    "text",
    "tool_call",
    "truncated",
    "wrong_schema",
]

# ---------------------------------------------------------------------------------------------
# Behaviours: what the scripted server does with one request.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """A 200 chat completion with this assistant message and finish_reason."""

    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (function name, raw arguments string)
    finish_reason: str = "stop"
    label: str = "completion"


@dataclass(frozen=True)
class HttpError:
    """A non-2xx reply with an OpenAI-style ``{"error": {...}}`` body."""

    status: int
    message: str
    type: str = "server_error"
    code: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    label: str = "http_error"


@dataclass(frozen=True)
class Raw:
    """A reply sent verbatim: any status, content type and bytes."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    label: str = "raw"


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` (interruptible by shutdown), then behave like ``then``."""

    seconds: float
    then: Behaviour
    label: str = "slow"


@dataclass(frozen=True)
class Disconnect:
    """Close the socket without sending a single byte (a crashed or killed server)."""

    label: str = "disconnect"


Behaviour = Completion | HttpError | Raw | Slow | Disconnect


def tool_call(name: str, args: dict[str, Any]) -> Completion:
    """A well-formed tool call: arguments JSON-encoded, finish_reason "tool_calls"."""
    return Completion(tool_calls=((name, json.dumps(args)),), finish_reason="tool_calls",
                      label="tool_call")


def text(content: str) -> Completion:
    """Plain assistant prose, no tool call, finish_reason "stop"."""
    return Completion(content=content, finish_reason="stop", label="text")


def invalid_json(name: str, arguments: str = '{"name": "Value Seek') -> Completion:
    """A tool call whose arguments string does not parse as JSON (finish_reason "tool_calls")."""
    return Completion(tool_calls=((name, arguments),), finish_reason="tool_calls",
                      label="invalid_json")


def truncated(name: str, args: dict[str, Any] | None = None) -> Completion:
    """A tool call cut off mid-arguments by max_tokens: finish_reason "length"."""
    full = json.dumps(args if args is not None else
                      {"name": "Value Seekers", "description": "Price-sensitive customers who"})
    return Completion(tool_calls=((name, full[: max(1, len(full) // 2)]),),
                      finish_reason="length", label="truncated")


def wrong_schema(name: str, args: dict[str, Any]) -> Completion:
    """Valid JSON arguments that do not match the tool's schema (wrong keys or types)."""
    return Completion(tool_calls=((name, json.dumps(args)),), finish_reason="tool_calls",
                      label="wrong_schema")


def slow(seconds: float, then: Behaviour | None = None) -> Slow:
    """Sleep before answering (to trigger client timeouts); answers ``then`` (default: text)."""
    return Slow(seconds=seconds, then=then if then is not None else text("late answer"))


def http_error(status: int = 500, message: str = "The server had an error.",
               type: str | None = None, code: str | None = None,
               retry_after: float | None = None) -> HttpError:
    """An HTTP error with an OpenAI-style error JSON body (e.g. 500, 429, 401, 404)."""
    default_type = {400: "invalid_request_error", 401: "invalid_request_error",
                    404: "invalid_request_error", 429: "rate_limit_error"}.get(status,
                                                                                "server_error")
    headers = (("retry-after", str(retry_after)),) if retry_after is not None else ()
    return HttpError(status=status, message=message, type=type or default_type, code=code,
                     headers=headers)


def garbage(body: bytes = b"<html><body>502 Bad Gateway</body></html>",
            content_type: str = "application/json") -> Raw:
    """A 200 whose body is not JSON at all, while claiming to be (a broken proxy)."""
    return Raw(body=body, status=200, content_type=content_type, label="garbage")


def disconnect() -> Disconnect:
    """Drop the connection without a response."""
    return Disconnect()


# ---------------------------------------------------------------------------------------------
# The scripted server.
# ---------------------------------------------------------------------------------------------


def _completion_json(b: Completion, model: str, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": b.content, "refusal": None}
    if b.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{n}_{i}", "type": "function",
             "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(b.tool_calls)
        ]
    completion_tokens = len((b.content or "") + "".join(a for _, a in b.tool_calls)) // 4 + 1
    return {
        "id": f"chatcmpl-scripted-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": b.finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens,
                  "total_tokens": 10 + completion_tokens},
    }


def _stream_chunks(b: Completion, model: str, n: int) -> list[dict[str, Any]]:
    """The same completion as server-sent chunks: role, content, tool calls, finish_reason."""
    base = {"id": f"chatcmpl-scripted-{n}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model, "system_fingerprint": None}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if b.content:
        # Two pieces, so a consumer that only keeps the last delta is caught.
        half = len(b.content) // 2
        chunks += [chunk({"content": part}) for part in (b.content[:half], b.content[half:])
                   if part]
    for i, (name, arguments) in enumerate(b.tool_calls):
        chunks.append(chunk({"tool_calls": [{"index": i, "id": f"call_{n}_{i}", "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}))
        chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments}}]}))
    chunks.append(chunk({}, b.finish_reason))
    return chunks


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    # HTTP/1.1 with "Connection: close" on every reply: langchain_openai caches its httpx client
    # per base_url for the whole process, so pooled keep-alive sockets must not outlive a server.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _send_json(self, status: int, obj: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": {"message": message, "type": "invalid_request_error",
                                           "param": None, "code": None}})

    def do_GET(self) -> None:
        self.server.owner._record_call("GET", self.path, None)
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": self.server.owner.model, "object": "model", "created": 0,
                 "owned_by": "scripted"}]})
        else:
            self._error(404, f"Unknown path {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        owner = self.server.owner
        if self.path.rstrip("/") != "/v1/chat/completions":
            owner._record_call("POST", self.path, body)
            self._error(404, f"Unknown path {self.path}")
            return
        n = owner._record_call("POST", self.path, body, chat=True)
        behaviour = owner._next_behaviour()
        stream = isinstance(body, dict) and bool(body.get("stream"))
        model = body.get("model", owner.model) if isinstance(body, dict) else owner.model
        self._behave(behaviour, n, model, stream)

    def _behave(self, b: Behaviour, n: int, model: str, stream: bool) -> None:
        if isinstance(b, Slow):
            # Sleep in short steps so that stopping the server never waits for a long sleep.
            if self.server.owner._stopping.wait(b.seconds):
                return  # shutting down: drop the connection silently
            self._behave(b.then, n, model, stream)
        elif isinstance(b, Disconnect):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif isinstance(b, HttpError):
            self._send_json(b.status, {"error": {"message": b.message, "type": b.type,
                                                 "param": None, "code": b.code}}, b.headers)
        elif isinstance(b, Raw):
            self._send(b.status, b.body, b.content_type)
        elif stream:
            events = [f"data: {json.dumps(c)}\n\n" for c in _stream_chunks(b, model, n)]
            self._send(200, ("".join(events) + "data: [DONE]\n\n").encode(), "text/event-stream")
        else:
            self._send_json(200, _completion_json(b, model, n))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in ``slow`` never blocks interpreter exit
    block_on_close = False
    owner: ScriptedOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up makes the late write fail: expected, not news.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class Call:
    """One request the scripted server received."""

    method: str
    path: str
    body: Any  # parsed JSON when it parsed, else the text; None for GET


class ScriptedOpenAIServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 that replies from a script.

    Each ``POST /v1/chat/completions`` consumes the next behaviour; when the queue is empty it
    uses ``default`` if given, else repeats the last behaviour served (so ``max_retries`` tests
    see the same fault every time), else answers ``text("")``. ``requests`` holds the parsed
    JSON body of every chat completion request, in order; ``calls`` holds every request.
    """

    def __init__(self, script: Iterable[Behaviour] = (), *, default: Behaviour | None = None,
                 model: str = "scripted-model") -> None:
        self.model = model
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self._queue: collections.deque[Behaviour] = collections.deque(script)
        self._last: Behaviour | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- script ------------------------------------------------------------------------------

    def push(self, *behaviours: Behaviour) -> None:
        """Append behaviours to the script."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """Behaviours not consumed yet."""
        with self._lock:
            return len(self._queue)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            if self._queue:
                self._last = self._queue.popleft()
                return self._last
            if self.default is not None:
                return self.default
            return self._last if self._last is not None else text("")

    def _record_call(self, method: str, path: str, body: Any, chat: bool = False) -> int:
        with self._lock:
            self.calls.append(Call(method, path, body))
            if chat:
                self.requests.append(body)
            return len(self.requests)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass as ``base_url`` to ChatOpenAI / OpenAI."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAIServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"scripted-openai-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping handlers, close the socket and join the thread."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The real llama.cpp server.
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parent_death_signal() -> Any:
    """A child-side hook that asks Linux to SIGTERM the child when its parent dies, so a killed
    pytest leaves no orphan holding 1-2 GB of RAM; None where that is not available."""
    if sys.platform != "linux":
        return None
    try:
        # Resolved here, in the parent: the hook runs between fork and exec, where a dlopen
        # could deadlock on a loader lock held by another thread (the scripted servers).
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return hook


def _settings_env_names() -> set[str]:
    """Environment variable names llama_cpp.server reads as settings (pydantic-settings)."""
    names = {"HOST", "PORT", "CONFIG_FILE"}  # read directly by its __main__, over the CLI flags
    try:
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError:
        return names
    for cls in (ModelSettings, ServerSettings):
        names |= {name.upper() for name in cls.model_fields}
    return names


class LlamaCppServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 and a free port, for the ``with`` block.

    Waits until ``GET /v1/models`` answers (failing with the log tail if the process exits or
    ``startup_timeout`` passes) and on exit terminates it (terminate, wait 10 s, kill).
    Output goes to a log file (``log_path``, in ``log_dir`` or the temp dir), never to a pipe
    that could fill up; the file is removed after a clean exit and kept after a failure.
    """

    def __init__(self, model_path: str | os.PathLike[str], *, alias: str = "local-model",
                 n_ctx: int = 4096, n_threads: int | None = None, use_mmap: bool = False,
                 verbose: bool = True, extra_args: Sequence[str] = (),
                 startup_timeout: float = 120.0,
                 log_dir: str | os.PathLike[str] | None = None) -> None:
        self.model_path = Path(model_path)
        self.model = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.use_mmap = use_mmap
        # verbose=True by default: the log is a file, and without it llama.cpp hides why a
        # model failed to load.
        self.verbose = verbose
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.log_dir = log_dir
        self.port: int | None = None
        self.log_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path), "--model_alias", self.model,
            "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--use_mmap", str(self.use_mmap),
            "--use_mlock", "False",  # its default is True: pinning 1.1 GB can fail or warn
            "--verbose", str(self.verbose),
            *self.extra_args,
        ]

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> LlamaCppServer:
        if not self.model_path.is_file():
            raise FileNotFoundError(f"model file not found: {self.model_path}")
        fd, log = tempfile.mkstemp(prefix="llama-cpp-server-", suffix=".log", dir=self.log_dir)
        os.close(fd)
        self.log_path = Path(log)
        blocked = _settings_env_names()
        # A stray MODEL, PORT or API_KEY in the developer's environment would override the flags.
        env = {k: v for k, v in os.environ.items() if k.upper() not in blocked}
        death_signal = _parent_death_signal()
        started = time.monotonic()
        try:
            for attempt in itertools.count(1):
                self.port = free_port()
                with open(self.log_path, "ab") as out:
                    self.process = subprocess.Popen(
                        self.command(self.port), stdin=subprocess.DEVNULL, stdout=out,
                        stderr=subprocess.STDOUT, env=env,
                        preexec_fn=death_signal)  # noqa: PLW1509 (see _parent_death_signal)
                if self._wait_ready(started):
                    break
                # The port picked by free_port() can be taken before uvicorn binds it: retry.
                if "address already in use" not in self.log_tail().lower() or attempt >= 3:
                    raise RuntimeError(
                        f"llama_cpp.server exited with code {self.process.returncode} before "
                        f"answering; log {self.log_path}:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> bool:
        """True once /v1/models answers, False if the process exited; raises on timeout."""
        assert self.process is not None
        url = f"{self.base_url}/models"
        while True:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise TimeoutError(
                    f"llama_cpp.server did not answer {url} within {self.startup_timeout:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, wait 10 s, SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)  # keep the log only when something failed
