"""One configuration for the scanning commands: ``hullscan.yaml`` (or ``--config FILE`` / ``$HULLSCAN_CONFIG``)
and ``HULLSCAN_<OPTION>`` environment variables set every option of :data:`CONFIGURED_COMMANDS`.

Precedence: a flag on the command line > its environment variable > the config file > the option's default. It is
click's own order (command line, ``envvar``, ``default_map``, default): this module gives every option its
environment variable and turns the file into the command's ``default_map`` after checking it. A key is an option's
long name without the dashes (``severity``, ``skip-dirs``, ``exit-code``; ``_`` may stand for ``-``); its
variable is ``HULLSCAN_`` and the name in capitals with ``_`` (``HULLSCAN_SKIP_DIRS``); a repeatable option's
variable holds a comma list. The checks' ``whitelist``
(:mod:`hullscan.checks.selection`) is the one key that is not an option. A key no command knows, or a value of the
wrong type, is an error naming the file and the key; a key of another scanning command is ignored.

``hullscan config COMMAND [ARGS...]`` prints what a command would run with: each option's value and where it came
from (``commandline``, ``environment``, ``config``, ``default``).
"""

import copy
import difflib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hullscan.errors import InputError

#: the commands whose options the file and the environment set
CONFIGURED_COMMANDS = ("image", "sbom", "sbom-scan", "fix")
#: keys of the file that are not options (read by their owners)
EXTRA_KEYS = {"whitelist": "hullscan.checks.selection"}
DEFAULT_FILE = "hullscan.yaml"
ENV_PREFIX = "HULLSCAN_"


def env_name(param: Any) -> str:
    """The environment variable of an option: ``HULLSCAN_`` + its name in capitals."""
    return ENV_PREFIX + str(param.name).upper()


def key_name(param: Any) -> str:
    """The config key of an option: its first long flag without the dashes."""
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs[0] if longs else param.opts[0])[2:] if param.opts else str(param.name).replace("_", "-")


def options_of(command: Any) -> list[Any]:
    """The options (not the arguments, not ``--help``) of a click command."""
    return [p for p in command.params if getattr(p, "param_type_name", "") == "option" and p.name != "help"]


def prepare(group: Any) -> None:
    """Give every option of the configured commands in ``group`` its environment variable (those that have one
    keep it) and a ``--config`` option (commands without one)."""
    for name in CONFIGURED_COMMANDS:
        command = group.commands.get(name)
        if command is None:
            continue
        params = options_of(command)
        for param in params:
            if not param.envvar:
                param.envvar = env_name(param)
            if param.multiple and getattr(param.type, "envvar_list_splitter", "") != ",":
                # one rule for every repeatable option: HULLSCAN_VEX=a.json,b.json (click would split paths on
                # ':' and text on spaces); a copy, as click's types may be shared between options
                param.type = copy.copy(param.type)
                param.type.envvar_list_splitter = ","
        if not any(p.name == "config" for p in params):
            option_class = type(params[0])
            command.params.append(option_class(
                param_decls=["--config"], type=str, default=None, expose_value=False, envvar=ENV_PREFIX + "CONFIG",
                help=f"Config file setting any option (default: ./{DEFAULT_FILE} when present)."))


def config_file(argv: list[str]) -> Path | None:
    """The config file a command line names (``--config FILE``, ``--config=FILE``), else ``$HULLSCAN_CONFIG``, else
    ``./hullscan.yaml`` when present."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    if env:
        return Path(env)
    return Path(DEFAULT_FILE) if Path(DEFAULT_FILE).is_file() else None


def read_file(path: Path) -> dict[str, Any]:
    """The file's mapping (InputError naming the file when it cannot be read or is not a YAML mapping)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such config file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected YAML)") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of option names to values, got {_kind(data)}")
    return data


def _type_kind(param: Any) -> str:
    """``boolean``, ``integer``, ``float`` or ``text`` (paths, choices, strings) for an option's click type."""
    name = str(getattr(param.type, "name", "text")).lower()
    if getattr(param, "is_flag", False) or name.startswith("bool"):
        return "boolean"
    if name.startswith("int"):
        return "integer"
    if name.startswith("float"):
        return "float"
    return "text"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _expected(param: Any) -> str:
    what = {"boolean": "true or false", "integer": "an integer", "float": "a number"}.get(_type_kind(param), "text")
    return f"a list of {what}" if param.multiple else what


def _check(param: Any, value: Any, where: str) -> Any:
    """``value`` from the file for ``param``, converted by the option's own type; InputError naming ``where``."""
    kind = _type_kind(param)
    bad = InputError(f"{where}: expected {_expected(param)}, got {_kind(value)} ({value!r})")
    if param.multiple:
        items = value if isinstance(value, list) else [value]
        return [_check_one(param, kind, v, bad) for v in items]
    if isinstance(value, list) and kind == "text" and all(isinstance(v, (str, int, float)) for v in value):
        value = ",".join(str(v) for v in value)  # severity: [HIGH, CRITICAL] == "HIGH,CRITICAL"
    return _check_one(param, kind, value, bad)


def _check_one(param: Any, kind: str, value: Any, bad: InputError) -> Any:
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(value, (dict, list)) or value is None:
        raise bad
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise bad
    if kind == "text" and isinstance(value, bool):
        raise bad
    try:
        return param.type.convert(value if kind in ("integer", "float") else str(value), param, None)
    except Exception as exc:  # noqa: BLE001  click's BadParameter (of typer's vendored click): the message
        message = getattr(exc, "message", None) or str(exc)
        raise InputError(f"{str(bad).split(': expected')[0]}: {message}") from None


def known_keys(group: Any) -> dict[str, dict[str, Any]]:
    """Config key -> {command name: option} over the configured commands of ``group``."""
    keys: dict[str, dict[str, Any]] = {}
    for name in CONFIGURED_COMMANDS:
        command = group.commands.get(name)
        if command is None:
            continue
        for param in options_of(command):
            if param.name != "config":
                keys.setdefault(key_name(param), {})[name] = param
    return keys


def default_map(group: Any, command: str, path: Path, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``default_map`` of ``command`` (its option name -> value) from the config file at ``path`` (read when
    ``data`` is None), every key checked; InputError naming the file and the key otherwise. Top-level keys apply to
    every configured command that has the option; a section named after a command (``image:``, ``fix:``) holds
    keys for that command only, and wins over the top-level ones (``output`` or ``vex`` mean different things to
    ``image`` and ``fix``)."""
    data = read_file(path) if data is None else data
    keys = all_keys()
    params = {key: by_command.get(command) for key, by_command in known_keys(group).items()}
    out: dict[str, Any] = {}
    section: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("_", "-")
        if key in EXTRA_KEYS:
            continue
        if key in CONFIGURED_COMMANDS:
            if not isinstance(value, dict):
                raise InputError(f"{path}: key {raw_key!r}: expected a mapping of {key}'s options, got {_kind(value)}")
            if key == command:
                section = value
            else:
                _unknown_keys(path, value, set(known_keys_of(group, key) or keys), f"{raw_key}.")
            continue
        _unknown_keys(path, {raw_key: value}, keys, "")
        param = params.get(key)
        if param is not None:
            out[param.name] = _check(param, value, f"{path}: key {raw_key!r}")
    own = {key for key, p in params.items() if p is not None}
    _unknown_keys(path, section, own, f"{command}.")
    for raw_key, value in section.items():
        param = params[str(raw_key).replace("_", "-")]
        assert param is not None  # (checked by _unknown_keys)
        out[param.name] = _check(param, value, f"{path}: key '{command}.{raw_key}'")
    return out


def known_keys_of(group: Any, command: str) -> set[str] | None:
    """The option keys of ``command`` (None when it is not registered in ``group``)."""
    if command not in group.commands:
        return None
    return {key for key, by_command in known_keys(group).items() if command in by_command}


def _unknown_keys(path: Path, data: dict[str, Any], keys: set[str], prefix: str) -> None:
    for raw_key in data:
        key = str(raw_key).replace("_", "-")
        if key in keys or (not prefix and key in EXTRA_KEYS):
            continue
        near = difflib.get_close_matches(key, sorted(keys), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise InputError(f"{path}: unknown key '{prefix}{raw_key}'{hint}: a key is a long option name without its "
                         f"dashes ({', '.join(CONFIGURED_COMMANDS)}), a section named after one of these commands, "
                         f"or one of {', '.join(EXTRA_KEYS)}")


_ALL_KEYS: set[str] | None = None


def all_keys() -> set[str]:
    """Every option key of every configured command (built once, from the commands themselves)."""
    global _ALL_KEYS
    if _ALL_KEYS is None:
        _ALL_KEYS = set(known_keys(full_group()))
    return _ALL_KEYS


def full_group() -> Any:
    """The click group with the configured commands registered and prepared."""
    from typer.main import get_command

    from hullscan.cli import build_app

    group = get_command(build_app(*CONFIGURED_COMMANDS))
    prepare(group)
    return group


def resolve(group: Any, argv: list[str]) -> dict[str, Any] | None:
    """The ``default_map`` for running ``argv`` with ``group`` (None when the command is not configured or there
    is no config file)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in CONFIGURED_COMMANDS or command not in group.commands:
        return None
    path = config_file(argv[argv.index(command) + 1:])
    if path is None:
        return None
    return {command: default_map(group, command, path)}


# --------------------------------------------------------------------------- hullscan config


def register(app: typer.Typer) -> None:
    """Add ``hullscan config``."""
    app.command("config", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(config_cmd)


def config_cmd(
    command: Annotated[str, typer.Argument(help=f"The command: {', '.join(CONFIGURED_COMMANDS)}.")],
    args: Annotated[list[str] | None, typer.Argument(help="Its arguments and options, as you would give them.")] = None,
) -> None:
    """Print the options COMMAND would run with (JSON): each one's value, and where it came from (commandline,
    environment, config file, default). Precedence: flag > HULLSCAN_<OPTION> > config file > default."""
    if command not in CONFIGURED_COMMANDS:
        raise InputError(f"unknown command {command!r}: choose from {', '.join(CONFIGURED_COMMANDS)}")
    argv = [command, *(args or [])]
    group = full_group()
    dm = resolve(group, argv) or {}
    sub = group.commands[command]
    ctx = sub.make_context(command, list(args or []), default_map=dm.get(command))
    out: dict[str, Any] = {}
    for param in options_of(sub):
        if param.name == "config" or not param.expose_value:
            continue
        source = ctx.get_parameter_source(param.name)
        value = ctx.params.get(param.name)
        out[key_name(param)] = {"value": _plain(value), "source": _source_name(source),
                                "env": param.envvar if isinstance(param.envvar, str) else None}
    print(json.dumps(out, indent=2, sort_keys=True))


def _source_name(source: Any) -> str:
    name = str(getattr(source, "name", source) or "DEFAULT").lower()
    return {"default_map": "config"}.get(name, name)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
