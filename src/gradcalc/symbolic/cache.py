"""The on-disk cache of symbolic derivatives, so a repeated call needs no SymPy at all.

Location: `$XDG_CACHE_HOME/gradcalc` (when set to an absolute path), else `~/.cache/gradcalc`.
One JSON file per entry, named by the SHA-256 of its key: the cache format, the gradcalc
version, a fingerprint of the code that produces derivatives (so an edited primitive or SymPy
conversion never reads an entry the old code wrote), the expression source, the bound names,
the differentiated names and --of. An entry holds the derivatives' printed forms and their
compiled program (see compiled.py), plus a checksum. Reading never trusts an entry: anything
that fails to parse, to match its key, its checksum or `compiled.validate` is ignored (and the
caller rewrites it). Writes go to a temporary file in the same directory and are moved into
place with os.replace, so concurrent runs only ever see whole entries. JSON only; nothing from
the cache is unpickled or evaluated.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..version import __version__
from . import compiled

FORMAT = 3  # 2: forms in the input language; 3: domain guards
MAX_ENTRY_BYTES = 256 * 1024 * 1024


def cache_dir() -> Path:
    """The cache directory (XDG base directory convention); not created here."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "gradcalc"


# the modules whose code decides what a derivative entry holds
_DERIVING = ("ops.py", "ops_matrix.py", "ops_array.py", "lang", "symbolic")


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of the source of the modules that turn a program into derivatives."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for entry in _DERIVING:
        path = root / entry
        for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.relative_to(root).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Key:
    """What a cache entry depends on."""

    source: str
    names: Any                  # list of names, or {name: symbol or [component symbols]}
    symbols: tuple[str, ...]    # every symbol a program may read
    wrt: tuple[str, ...]
    of: str | None

    def material(self) -> dict[str, Any]:
        """The key as JSON data, including the format and gradcalc versions."""
        return {"format": FORMAT, "gradcalc": __version__, "code": code_fingerprint(),
                "source": self.source,
                "names": self.names, "wrt": list(self.wrt), "of": self.of}

    def digest(self) -> str:
        """SHA-256 of the key material: the entry's file name."""
        return hashlib.sha256(_canonical(self.material()).encode()).hexdigest()


@dataclass
class Entry:
    """Cached derivatives: printed form per wrt name, and the program computing the output's
    value (outputs[0]), each partial (then, in wrt order) and, when the program uses
    stop_gradient, each true partial (last, with true_forms)."""

    forms: dict[str, str]
    program: compiled.Program
    outputs: list[int]
    true_forms: dict[str, str] = field(default_factory=dict)
    # domain guards: [kind, op, start, end, number of argument outputs] each; their argument
    # outputs follow the true partials, in order
    guards: list[list[Any]] = field(default_factory=list)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def path_for(key: Key) -> Path:
    """The file that holds the entry for this key."""
    return cache_dir() / f"{key.digest()}.json"


def _read_regular(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file of at most cap bytes; None for anything else (a FIFO that
    would block, a device such as /dev/zero, a symbolic link, a directory, a larger file)."""
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_NOFOLLOW"):   # (POSIX; elsewhere the file type test below)
        flags |= vars(os).get(name, 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
            return None
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:    # it grew while being read
                return None
    finally:
        os.close(fd)


def _read(path: Path, material: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload of the entry at path, if it is a regular file within the size cap, whole
    (its checksum) and of this key."""
    raw = _read_regular(path, MAX_ENTRY_BYTES)
    if raw is None:
        return None
    data = json.loads(raw)
    payload = data["payload"]
    if not isinstance(payload, dict) or data.get("checksum") != hashlib.sha256(
            _canonical(payload).encode()).hexdigest():
        return None
    if any(payload.get(k) != v for k, v in material.items()):
        return None
    return payload


def load(key: Key) -> Entry | None:
    """The entry for this key, or None when it is missing, unreadable, not a regular file of
    at most MAX_ENTRY_BYTES, or fails any check."""
    path = path_for(key)
    try:
        payload = _read(path, key.material())
        if payload is None:
            return None
        forms, program, outputs = payload["forms"], payload["program"], payload["outputs"]
        true_forms = payload["true_forms"]
        for table in (forms, true_forms):
            if not isinstance(table, dict) or list(table) not in (list(key.wrt), []) or not all(
                    isinstance(v, str) for v in table.values()):
                return None
        if list(forms) != list(key.wrt):
            return None
        guards = payload["guards"]
        if not isinstance(guards, list) or not all(_valid_guard(g) for g in guards):
            return None
        if not isinstance(outputs, list) or len(outputs) != 1 + len(key.wrt) + len(
                true_forms) + sum(g[4] for g in guards):
            return None
        compiled.validate(program, outputs, key.symbols)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
            compiled.Invalid):
        return None
    return Entry(dict(forms), program, list(outputs), dict(true_forms), guards)


def _valid_guard(g: Any) -> bool:
    return (isinstance(g, list) and len(g) == 5 and isinstance(g[0], str)
            and isinstance(g[1], str) and all(x is None or type(x) is int for x in g[2:4])
            and type(g[4]) is int and 1 <= g[4] <= 2)


def store(key: Key, entry: Entry) -> bool:
    """Write the entry atomically (temporary file + os.replace); False if the cache is not
    writable. Never raises for file-system problems: the cache is an optimisation."""
    payload = {**key.material(), "forms": entry.forms, "true_forms": entry.true_forms,
               "program": entry.program, "outputs": entry.outputs, "guards": entry.guards}
    return _write(path_for(key), payload)


def other_material(kind: str, material: Mapping[str, Any]) -> dict[str, Any]:
    """The key of an entry of another kind than derivatives (kind: e.g. "steps"), with the
    format, gradcalc version and code fingerprint as a derivatives key has them."""
    return {"kind": kind, "format": FORMAT, "gradcalc": __version__,
            "code": code_fingerprint(), **material}


def _other_path(material: Mapping[str, Any]) -> Path:
    return cache_dir() / f"{hashlib.sha256(_canonical(material).encode()).hexdigest()}.json"


def load_other(material: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload stored under a key of another kind (other_material), whole and of this key,
    or None. The caller validates what it holds."""
    try:
        return _read(_other_path(material), material)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def store_other(material: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Write a payload under a key of another kind, atomically, as store() does."""
    return _write(_other_path(material), {**material, **data})


def _write(path: Path, payload: Mapping[str, Any]) -> bool:
    text = _canonical({"checksum": hashlib.sha256(_canonical(payload).encode()).hexdigest(),
                       "payload": payload})
    directory = cache_dir()
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def make_key(source: str, names: Sequence[str] | Mapping[str, str | list[str]],
             wrt: Sequence[str], of: str | None) -> Key:
    """The key of an expression's derivatives. names: the bound names, or a mapping from each
    to its symbol name or its vector's component symbol names (vectors.symbol_names)."""
    if isinstance(names, Mapping):
        material: Any = {n: v if isinstance(v, str) else list(v) for n, v in names.items()}
        symbols = [s for v in names.values() for s in ([v] if isinstance(v, str) else v)]
    else:
        material = list(names)
        symbols = list(names)
    return Key(source, material, tuple(symbols), tuple(wrt), of)
