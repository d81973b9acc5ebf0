"""One typed settings tree, with a default for every field.

Sources, later ones winning: defaults, the user's config file (TOML in the platform config
dir), the workspace's ``.minicode.toml``, ``initializationOptions``, then
``workspace/didChangeConfiguration`` (section ``minicode``). The workspace file's settings
that send data out or run code apply only once the user allowed its exact content
(``trust.py``); a client that says the workspace is not trusted (``workspaceTrusted: false``
in ``initializationOptions``, as VS Code's Workspace Trust) has those keys of every
non-user layer withheld. Parsing is lenient and loud:
unknown keys are ignored with a warning, an invalid value keeps its default and is reported
(the problems show in readiness), and nothing here is ever fatal.

API keys never live in config: ``apiKeyEnv`` names an environment variable.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from . import trust

log = logging.getLogger(__name__)

WORKSPACE_FILE = ".minicode.toml"
MCP_JSON = ".mcp.json"  # the mcpServers object Claude Code and others read; allowed like the workspace file
DEFAULT_LOCAL_URL = "http://127.0.0.1:11434/v1"
# `id_*` narrowed to the SSH key family, so source files such as id_map.py stay readable.
DEFAULT_SECRET_FILES = (".env*", "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*")


class Section(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)


class ProviderConfig(Section):
    name: str = "local"
    kind: Literal["openai", "anthropic"] = "openai"
    base_url: str = DEFAULT_LOCAL_URL
    model: str = "qwen2.5-coder"
    api_key_env: str = ""
    timeout_s: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=4096, ge=1)
    context_window: int = Field(default=32768, ge=1024)
    max_retries: int = Field(default=2, ge=0, le=10)
    # Separate timeouts: connecting; the reply's first byte (a local model may load first);
    # between chunks once it streams.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    first_token_timeout_s: float = Field(default=300.0, gt=0)
    idle_timeout_s: float = Field(default=90.0, gt=0)
    # Caps that keep memory bounded whatever the server sends.
    max_reply_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    max_tool_arguments_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    prompt_caching: bool = True  # Anthropic: cache the tools, system prompt and conversation prefix
    thinking_budget: int = Field(default=0, ge=0)  # Anthropic extended thinking (0: off; >= 1024 to use)


class AgentConfig(Section):
    profile: Literal["single", "single-deep"] = "single"
    permission_mode: Literal["ask", "auto", "plan"] = "ask"
    test_command: str = ""
    max_steps: int = Field(default=0, ge=0)  # 0: the profile's budget
    command_timeout_s: float = Field(default=120.0, gt=0)
    # Commands (globs on the whole command) whose processes keep running after their turn and
    # their timeout, until the server exits: a dev server. Others end when their turn ends.
    keep_running: list[str] = Field(default_factory=list)
    # how long an approval prompt (and any editor request a person answers) is waited for
    approval_timeout_s: float = Field(default=600.0, gt=0)
    # Files the agent's tools never read or write, and snapshots never store (globs on the name).
    secret_files: list[str] = Field(default_factory=lambda: list(DEFAULT_SECRET_FILES))


class RewindConfig(Section):
    confirm: bool = True


class StoreConfig(Section):
    path: str = ""  # empty: the platform state dir, one folder per workspace root
    max_sessions: int = Field(default=500, ge=1)
    max_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)  # history, the workspace's snapshot not counted
    keep_sessions: int = Field(default=20, ge=0)  # retention never deletes the newest N sessions
    keep_days: float = Field(default=7.0, ge=0)  # nor any session updated less than this long ago
    max_blob_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)


class SnapshotConfig(Section):
    max_file_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_files: int = Field(default=100_000, ge=10)
    time_budget_s: float = Field(default=5.0, gt=0)


class MemoryConfig(Section):
    budget_tokens: int = Field(default=1500, ge=0)
    reflection: bool = False
    compaction_threshold: float = Field(default=0.8, gt=0.1, le=1.0)


class McpServerConfig(Section):
    """``[mcpServers.NAME]``: a stdio server (``command``) or a Streamable HTTP one (``url``).

    ``env`` and ``headersEnv`` name environment variables (values never live in config):
    ``env = ["GITHUB_TOKEN"]`` passes that variable to the server; ``headersEnv =
    {Authorization = "MY_TOKEN"}`` sends the header with the variable's value."""

    command: str = ""
    args: list[str] = Field(default_factory=list)
    env: list[str] = Field(default_factory=list)
    cwd: str = ""
    url: str = ""
    headers_env: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    timeout_s: float = Field(default=30.0, gt=0)  # for each call
    start_timeout_s: float = Field(default=30.0, gt=0)  # to start and list its tools
    allow: list[str] = Field(default_factory=list)  # tools that need no approval in ask mode
    # From a .mcp.json only (values written in that file; ``${VAR}`` reads the environment):
    env_values: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


class Settings(Section):
    providers: list[ProviderConfig] = Field(default_factory=list)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    rewind: RewindConfig = Field(default_factory=RewindConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)

    def effective_providers(self) -> list[ProviderConfig]:
        """The configured chain, or the local Ollama default when none is configured."""
        return list(self.providers) or [ProviderConfig()]

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class ConfigProblem(BaseModel):
    source: str
    key: str
    message: str


def _known_keys(model: type[BaseModel]) -> dict[str, str]:
    """Map every accepted spelling (camelCase alias and snake_case name) to the field name."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        keys[name] = name
        if field.alias:
            keys[field.alias] = name
    return keys


def _clean(
    model: type[BaseModel], data: Any, source: str, prefix: str, problems: list[ConfigProblem]
) -> dict[str, Any]:
    """Keep the valid, known keys of ``data`` for ``model``; report the rest."""
    if not isinstance(data, dict):
        if data not in (None, [], {}):
            problems.append(ConfigProblem(source=source, key=prefix or "(root)", message="expected a table"))
        return {}
    known = _known_keys(model)
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        name = known.get(key)
        if name is None:
            log.warning("config %s: unknown key %r ignored", source, path)
            problems.append(ConfigProblem(source=source, key=path, message="unknown key, ignored"))
            continue
        annotation = model.model_fields[name].annotation
        sub = _section_type(annotation)
        if sub is not None and name != "providers":
            out[name] = _clean(sub, value, source, f"{path}.", problems)
            continue
        if name == "providers":
            out[name] = _clean_providers(value, source, path, problems)
            continue
        if name == "mcp_servers":
            out[name] = _clean_mcp(value, source, path, problems)
            continue
        try:
            model.__pydantic_validator__.validate_assignment(model.model_construct(), name, value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            log.warning("config %s: invalid %s=%r (%s); keeping the default", source, path, value, msg)
            problems.append(ConfigProblem(source=source, key=path, message=f"invalid value {value!r}: {msg}"))
            continue
        out[name] = value
    return out


def _section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    return None


def _clean_providers(value: Any, source: str, path: str, problems: list[ConfigProblem]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        problems.append(ConfigProblem(source=source, key=path, message="expected a list of providers"))
        return []
    out = []
    for i, item in enumerate(value):
        cleaned = _clean(ProviderConfig, item, source, f"{path}[{i}].", problems)
        if cleaned:
            out.append(cleaned)
    return out


MAX_DEPTH = 64  # tables and arrays nested deeper than this: the whole source is ignored


def _too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests dicts/lists deeper than ``limit`` (iterative: never recurses)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= limit:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _clean_mcp(value: Any, source: str, path: str, problems: list[ConfigProblem]) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        problems.append(ConfigProblem(source=source, key=path, message="expected a table of servers"))
        return {}
    out = {}
    for name, item in value.items():
        cleaned = _clean(McpServerConfig, item, source, f"{path}.{name}.", problems)
        if not (cleaned.get("command") or cleaned.get("url")):
            problems.append(ConfigProblem(source=source, key=f"{path}.{name}",
                                          message="needs `command` (stdio) or `url` (Streamable HTTP)"))
            continue
        out[str(name)] = cleaned
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value  # lists (providers) replace, they do not merge
    return merged


CLIENT_SOURCES = ("initializationOptions", "didChangeConfiguration")
TRUST_FLAG = "workspaceTrusted"  # sent by a client in initializationOptions (VS Code: isTrusted)


class ConfigLoader:
    """Holds the layered sources and builds the effective Settings from them."""

    ORDER = ("user", "workspace", "initializationOptions", "didChangeConfiguration")

    def __init__(self, *, trust_base: Path | None = None) -> None:
        self.layers: dict[str, dict[str, Any]] = {}
        self.problems: dict[str, list[ConfigProblem]] = {}
        self.trust_base = trust_base  # the trust file's folder (None: the user's state dir)
        # The workspace file as last read: its path, bytes and whether its content is allowed.
        self.workspace_path: Path | None = None
        self.workspace_bytes: bytes | None = None
        self.workspace_allowed = False
        self.workspace_extra: dict[str, Any] = {}  # gated keys from beside the file (.mcp.json's servers)
        # The client said the workspace is not trusted (VS Code's Workspace Trust): only ever
        # stricter; no client message can make a file trusted.
        self.client_untrusted = False
        self.withheld: list[trust.Withheld] = []
        # The workspace's .mcp.json as last read: its servers (cleaned), bytes and allow.
        self.mcp_json_path: Path | None = None
        self.mcp_json_bytes: bytes | None = None
        self.mcp_json_allowed = False
        self.mcp_json_servers: dict[str, Any] = {}

    def set_layer(self, source: str, data: Any) -> None:
        if isinstance(data, dict) and (TRUST_FLAG in data or "token" in data):
            data = dict(data)
            data.pop("token", None)  # the `serve --tcp` token: checked by tcp.py, not a setting
            flag = data.pop(TRUST_FLAG, None)
            if source in CLIENT_SOURCES and flag is False:
                self.client_untrusted = True
        problems: list[ConfigProblem] = []
        if _too_deep(data, MAX_DEPTH):  # nothing below may recurse (or print) through it
            message = f"nested deeper than {MAX_DEPTH} levels; this source is ignored"
            log.warning("config %s: %s", source, message)
            self.layers[source] = {}
            self.problems[source] = [ConfigProblem(source=source, key="(root)", message=message)]
            return
        self.layers[source] = _clean(Settings, data, source, "", problems)
        self.problems[source] = problems

    def load_file(self, source: str, path: Path) -> None:
        if source == "workspace":
            self.workspace_path, self.workspace_bytes, self.workspace_allowed = path, None, False
            self.workspace_extra = {}
        if not path.is_file():
            self.layers.pop(source, None)
            self.problems.pop(source, None)
            return
        try:
            raw = path.read_bytes()
            data = tomllib.loads(raw.decode("utf-8"))
        except RecursionError:  # tomllib recurses once per nesting level
            exc = ValueError(f"nested deeper than {MAX_DEPTH} levels; this source is ignored")
            log.warning("config %s: cannot read %s: %s", source, path, exc)
            self.layers[source] = {}
            self.problems[source] = [ConfigProblem(source=source, key=str(path), message=f"unreadable: {exc}")]
            return
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            log.warning("config %s: cannot read %s: %s", source, path, exc)
            self.layers[source] = {}
            self.problems[source] = [ConfigProblem(source=source, key=str(path), message=f"unreadable: {exc}")]
            return
        if source == "workspace":
            self.workspace_bytes = raw
            self.workspace_allowed = trust.is_allowed(path, trust.content_hash(raw), base=self.trust_base)
        self.set_layer(source, data)

    def load_mcp_json(self, path: Path) -> None:
        """The workspace's ``.mcp.json``: its servers apply once the user allowed its exact content."""
        self.mcp_json_path, self.mcp_json_bytes, self.mcp_json_allowed = path, None, False
        self.mcp_json_servers = {}
        self.problems.pop(MCP_JSON, None)
        if not path.is_file():
            return
        problems: list[ConfigProblem] = []
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            log.warning("config %s: cannot read %s: %s", MCP_JSON, path, exc)
            self.problems[MCP_JSON] = [ConfigProblem(source=MCP_JSON, key=str(path), message=f"unreadable: {exc}")]
            return
        servers = data.get("mcpServers") if isinstance(data, dict) else None
        converted = {name: mcp_json_entry(entry) for name, entry in (servers or {}).items()} \
            if isinstance(servers, dict) else servers
        self.mcp_json_servers = _clean_mcp(converted, MCP_JSON, "mcpServers", problems)
        self.problems[MCP_JSON] = problems
        self.mcp_json_bytes = raw
        self.mcp_json_allowed = trust.is_allowed(path, trust.content_hash(raw), base=self.trust_base)

    def allow_mcp_json(self, sha256: str | None = None) -> bool:
        if not self._allow(self.mcp_json_path, self.mcp_json_bytes, sha256):
            return False
        self.mcp_json_allowed = True
        return True

    def _allow(self, path: Path | None, data: bytes | None, sha256: str | None) -> bool:
        """Record the user's allow of ``path`` with the content ``data`` as last read (only if
        its hash is ``sha256`` when given: what the user was shown). False when nothing to allow."""
        if path is None or data is None:
            return False
        digest = trust.content_hash(data)
        if sha256 is not None and sha256 != digest:
            return False
        trust.allow(path, digest, base=self.trust_base)
        return True

    def settings(self) -> Settings:
        merged: dict[str, Any] = {}
        user = self.layers.get("user", {})
        self.withheld = []
        for source in self.ORDER:
            layer = self.layers.get(source, {})
            gated = (source == "workspace" and not (self.workspace_allowed and not self.client_untrusted)) or (
                source in CLIENT_SOURCES and self.client_untrusted
            )
            if gated:
                layer, withheld = trust.gate({**layer, **self.workspace_extra} if source == "workspace" else layer,
                                             user, source)
                if withheld.keys:
                    self.withheld.append(withheld)
            merged = _merge(merged, layer)
            if source == "workspace" and self.mcp_json_servers:
                if self.mcp_json_allowed and not self.client_untrusted:
                    merged = _merge({"mcp_servers": self.mcp_json_servers}, merged)  # the TOML's win
                else:
                    self.withheld.append(trust.Withheld(MCP_JSON, ["mcpServers"],
                                                        {"mcpServers": self.mcp_json_servers}))
        return Settings.model_validate(merged)

    def workspace_withheld(self) -> trust.Withheld | None:
        """What the workspace file would enable once allowed (computed as if it were not)."""
        layer = {**self.layers.get("workspace", {}), **self.workspace_extra}
        _, withheld = trust.gate(layer, self.layers.get("user", {}), "workspace")
        return withheld if withheld.keys else None

    def allow_workspace(self, sha256: str | None = None) -> bool:
        """Record the user's allow for the workspace file's content as last read (or only if
        its hash is ``sha256``: what the user was shown). False when there is nothing to allow."""
        if not self._allow(self.workspace_path, self.workspace_bytes, sha256):
            return False
        self.workspace_allowed = True
        return True

    def all_problems(self) -> list[ConfigProblem]:
        return [p for source in (*self.ORDER, MCP_JSON) for p in self.problems.get(source, [])]


_WARNED_MISSING: set[str] = set()


def user_config_path() -> Path:
    override = os.environ.get("MINICODE_CONFIG")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("minicode-lsp")) / "config.toml"


def load_for_workspace(root: Path | None, loader: ConfigLoader | None = None) -> ConfigLoader:
    """The user's config and the workspace's ``.minicode.toml`` (its trust checked)."""
    loader = loader or ConfigLoader()
    user = user_config_path()
    if os.environ.get("MINICODE_CONFIG") and not user.is_file() and str(user) not in _WARNED_MISSING:
        _WARNED_MISSING.add(str(user))  # once a process: the server reloads the config often
        log.warning("MINICODE_CONFIG names %s, which %s; no user config is read", user,
                    "is not a file" if user.exists() else "does not exist")
    loader.load_file("user", user)
    if root is not None:
        loader.load_file("workspace", root / WORKSPACE_FILE)
        loader.load_mcp_json(root / MCP_JSON)
    return loader


def mcp_json_entry(entry: Any) -> Any:
    """One ``.mcp.json`` server in our settings' shape. Its ``env`` values are passed as written,
    except ``${VAR}``, which passes the variable from the environment (never copied into config)."""
    if not isinstance(entry, dict):
        return entry
    out: dict[str, Any] = {k: entry[k] for k in ("command", "args", "cwd", "url") if k in entry}
    env = entry.get("env")
    if isinstance(env, dict):
        out["env"] = [str(k) for k in env]
        out["envValues"] = {str(k): str(v) for k, v in env.items()}
    headers = entry.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {str(k): str(v) for k, v in headers.items()}
    return out
