#!/usr/bin/env python3
"""Validate editors/helix/languages.toml (Python 3.11+, stdlib only).

    python3 editors/helix/check.py [PATH]      # default: languages.toml next to this file

Checks:
* `[language-server.codex-lsp]` exists, `command` is "codex-lsp", `args` (if any)
  is a list of strings;
* `config` (if any) is a table whose keys are documented codex-lsp settings
  (flat, or under a `codex` table), with the right basic types; `actions`
  entries have string `id`, `title`, `instruction`;
* no API key in the file: `environment` must not set CODEX_LSP_API_KEY or
  OPENAI_API_KEY, and no setting is named like a key;
* at least one `[[language]]` entry, each with a `name`, and every one lists
  "codex-lsp" in `language-servers` (as a name or `{ name = "codex-lsp" }`),
  and every server it names is either codex-lsp or a plain string / table.
Prints "ok: ..." and exits 0, or prints each problem and exits 1.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

SERVER = "codex-lsp"

# setting -> accepted Python types (bool is excluded from numbers explicitly below)
SETTINGS: dict[str, tuple[type, ...]] = {
    "baseUrl": (str,),
    "model": (str,),
    "reasoningEffort": (str,),
    "maxOutputTokens": (int,),
    "temperature": (int, float),
    "topP": (int, float),
    "stream": (bool,),
    "timeoutSecs": (int,),
    "maxRetries": (int,),
    "instructions": (str,),
    "contextLines": (int,),
    "exclude": (list,),
    "actions": (list,),
    "allowOutsideWorkspace": (bool,),
    "logFile": (str,),
}
EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh", "max"}
KEY_VARS = {"CODEX_LSP_API_KEY", "OPENAI_API_KEY"}


def check_config(config: object, problems: list[str]) -> None:
    if not isinstance(config, dict):
        problems.append("`config` must be a table")
        return
    if set(config) == {"codex"} and isinstance(config["codex"], dict):
        config = config["codex"]
    for key, value in config.items():
        if key not in SETTINGS:
            problems.append(
                f"config key `{key}` is not a codex-lsp setting (known: {', '.join(SETTINGS)})"
            )
            continue
        types = SETTINGS[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            problems.append(f"config `{key}` has the wrong type ({type(value).__name__})")
            continue
        if key == "reasoningEffort" and value not in EFFORTS:
            problems.append(f"config `reasoningEffort` = {value!r}, expected one of {sorted(EFFORTS)}")
        if key == "exclude" and not all(isinstance(g, str) for g in value):
            problems.append("config `exclude` must be a list of glob strings")
        if key == "actions":
            for i, a in enumerate(value):
                if not isinstance(a, dict) or not all(
                    isinstance(a.get(f), str) and a.get(f) for f in ("id", "title", "instruction")
                ):
                    problems.append(f"config `actions[{i}]` needs string `id`, `title` and `instruction`")
        if key == "baseUrl" and not value.startswith(("https://", "http://127.", "http://localhost", "http://[::1]")):
            problems.append(f"config `baseUrl` {value!r}: https://, or plain http:// only to loopback")


def server_names(entry: dict) -> list[object]:
    names = []
    for s in entry.get("language-servers", []):
        if isinstance(s, str):
            names.append(s)
        elif isinstance(s, dict):
            names.append(s.get("name"))
        else:
            names.append(s)
    return names


def check(path: Path) -> list[str]:
    problems: list[str] = []
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        return [f"{path}: not found"]
    except tomllib.TOMLDecodeError as e:
        return [f"{path}: not valid TOML: {e}"]

    servers = doc.get("language-server")
    entry = servers.get(SERVER) if isinstance(servers, dict) else None
    if not isinstance(entry, dict):
        problems.append(f"no [language-server.{SERVER}] table")
    else:
        if entry.get("command") != SERVER:
            problems.append(f"[language-server.{SERVER}] command is {entry.get('command')!r}, expected {SERVER!r}")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            problems.append("`args` must be a list of strings")
        if "config" in entry:
            check_config(entry["config"], problems)
        env = entry.get("environment", {})
        if not isinstance(env, dict):
            problems.append("`environment` must be a table")
        else:
            for var in sorted(KEY_VARS & set(env)):
                problems.append(f"`environment` sets {var}: keep the API key out of languages.toml")
        unknown = set(entry) - {"command", "args", "config", "environment", "timeout", "required-root-patterns"}
        for k in sorted(unknown):
            problems.append(f"[language-server.{SERVER}] has an unknown key `{k}`")

    langs = doc.get("language", [])
    if not isinstance(langs, list) or not langs:
        problems.append("no [[language]] entries")
        langs = []
    for i, lang in enumerate(langs):
        name = lang.get("name") if isinstance(lang, dict) else None
        if not isinstance(name, str):
            problems.append(f"[[language]] #{i + 1} has no name")
            continue
        names = server_names(lang)
        if SERVER not in names:
            problems.append(f"[[language]] {name}: language-servers {names} does not include {SERVER!r}")
        for n in names:
            if not isinstance(n, str) or not n:
                problems.append(f"[[language]] {name}: bad language-servers entry {n!r}")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("languages.toml")
    problems = check(path)
    if problems:
        for p in problems:
            print(f"FAIL {path}: {p}")
        return 1
    with path.open("rb") as f:
        doc = tomllib.load(f)
    langs = ", ".join(l["name"] for l in doc["language"])
    print(f"ok: {path}: [language-server.{SERVER}] used by {langs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
