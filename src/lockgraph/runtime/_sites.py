"""Sites: Python stacks as the engine's ``Stack``, and lock classes by creation site.

A lock's class is, by default, where it was created (lockdep's per-init-site key):
the first frame outside ``threading`` and lockgraph, so a ``Condition()``,
``Semaphore()`` or ``Event()`` gets the class of the line that made it, not of the
line in ``threading.py`` that made its inner lock. The class name says what was
created and where: ``Condition@app/jobs.py:41``.
"""

from __future__ import annotations

import bisect
import dis
import linecache
import os
import sys
import sysconfig
import threading
from types import CodeType, FrameType
from typing import Any

from lockgraph.engine.model import Frame, Stack

MAX_FRAMES = 24
"""Frames kept per stack (innermost first)."""
MAX_WALK = 256
"""Frames looked at per stack: hidden frames are skipped, not counted, up to this."""

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_RUNTIME_DIR)
_THREADING = os.path.abspath(threading.__file__)
_getframe = sys._getframe

_display: dict[str, str] = {}
_own: dict[str, bool] = {}
_hidden: dict[str, bool] = {}
_cwd = os.getcwd()
_full_stacks = False


def _library_dirs() -> tuple[list[str], list[str]]:
    """(site-packages directories, standard library directories), longest first."""
    site = {
        os.path.abspath(p)
        for p in sys.path
        if p and os.path.basename(p.rstrip(os.sep)) in ("site-packages", "dist-packages")
    }
    paths = sysconfig.get_paths()
    for key in ("purelib", "platlib"):
        if paths.get(key):
            site.add(os.path.abspath(paths[key]))
    std = {os.path.abspath(paths[k]) for k in ("stdlib", "platstdlib") if paths.get(k)}
    std.add(os.path.dirname(_THREADING))
    return sorted(site, key=len, reverse=True), sorted(std, key=len, reverse=True)


_SITE_DIRS, _STD_DIRS = _library_dirs()
_HIDDEN_PACKAGES = ("lockgraph", "_pytest", "pytest", "pluggy", "xdist", "execnet")
"""Packages under site-packages whose frames are machinery, not the program."""


def set_full_stacks(flag: bool) -> None:
    """Keep every frame (``--full-stacks``): the interpreter's library, pytest, lockgraph."""
    global _full_stacks
    if flag != _full_stacks:
        _full_stacks = flag
        _frames.clear()


def _under(path: str, dirs: list[str]) -> str:
    """``path`` relative to the first of ``dirs`` that holds it (empty: none does)."""
    for d in dirs:
        if path.startswith(d + os.sep):
            return path[len(d) + 1 :]
    return ""


def display_path(filename: str) -> str:
    """A file as reports show it: relative to the working directory (the project root)
    when inside it, else to its ``site-packages`` or standard library directory."""
    shown = _display.get(filename)
    if shown is None:
        shown = filename
        if os.path.isabs(filename):
            try:
                rel = os.path.relpath(filename, _cwd)
            except ValueError:
                rel = filename
            if not rel.startswith(".."):
                shown = rel
            else:
                shown = _under(filename, _SITE_DIRS) or _under(filename, _STD_DIRS) or filename
        _display[filename] = shown
    return shown


def is_own(filename: str) -> bool:
    """Whether a file is part of lockgraph's runtime (its frames are not shown)."""
    own = _own.get(filename)
    if own is None:
        path = os.path.abspath(filename)
        own = _own[filename] = path.startswith(_RUNTIME_DIR + os.sep) or path == os.path.join(
            _PACKAGE_DIR, "__init__.py"
        )
    return own


def is_hidden(filename: str) -> bool:
    """Whether a frame of this file is machinery rather than the program: the
    interpreter's own library (``threading``, ``asyncio``, ``runpy``, ...), lockgraph,
    pytest and pluggy. Hidden unless ``--full-stacks``."""
    hidden = _hidden.get(filename)
    if hidden is None:
        path = os.path.abspath(filename)
        if filename.startswith("<frozen ") or path.startswith(_PACKAGE_DIR + os.sep):
            hidden = True
        else:
            site = _under(path, _SITE_DIRS)
            if site:
                hidden = site.split(os.sep, 1)[0].split(".")[0] in _HIDDEN_PACKAGES
            else:
                hidden = bool(_under(path, _STD_DIRS))
        _hidden[filename] = hidden
    return hidden


def frame_of(code: CodeType, line: int) -> Frame:
    text = linecache.getline(code.co_filename, line).strip() if line > 0 else ""
    return Frame(display_path(code.co_filename), line, code.co_name, text)


_FRAME_CACHE_LIMIT = 100_000
_frames: dict[tuple[int, int], tuple[CodeType, Frame | None]] = {}
"""(id(code), line) -> (code, its frame, or None for a hidden one): a stack costs one
lookup a frame. Keyed by identity (hashing a code object hashes its contents); the
entry keeps its code alive and is checked against it, so an id reused is a miss."""


def _frame(code: CodeType, line: int) -> Frame | None:
    if len(_frames) >= _FRAME_CACHE_LIMIT:
        _frames.clear()  # code made at run time (exec, templates) must not grow it forever
    filename = code.co_filename
    hidden = is_own(filename) or (not _full_stacks and is_hidden(filename))
    made = None if hidden else frame_of(code, line)
    _frames[(id(code), line)] = (code, made)
    return made


_outermost: dict[int, CodeType] = {}
_RUNPY_SHOWN = (
    display_path(os.path.join(os.path.dirname(_THREADING), "runpy.py")),
    "<frozen runpy>",
)


def hide_from(code: CodeType) -> None:
    """Stacks end below frames of ``code`` (``lockgraph run``'s runner): the runner,
    what called it and ``runpy`` beneath the program are not the program's."""
    _outermost[id(code)] = code


def stack_from(frame: FrameType | None, first_line: int = -1) -> Stack:
    """The stack from ``frame`` outwards: lockgraph's own frames left out, and the
    machinery's (``is_hidden``) unless ``--full-stacks``. A stack that would be
    empty (a thread of the library's own) keeps its innermost frames."""
    start = frame
    frames: list[Frame] = []
    known = _frames
    walked = 0
    while frame is not None and len(frames) < MAX_FRAMES and walked < MAX_WALK:
        walked += 1
        code = frame.f_code
        key = id(code)
        if key in _outermost and _outermost[key] is code:
            while frames and frames[-1].file in _RUNPY_SHOWN:
                frames.pop()
            break
        line = first_line if first_line >= 0 and frame is start else (frame.f_lineno or 0)
        entry = known.get((key, line))
        made = entry[1] if entry is not None and entry[0] is code else _frame(code, line)
        if made is not None:
            frames.append(made)
        frame = frame.f_back
    if not frames and start is not None and not _full_stacks:
        return _unfiltered(start, first_line)
    return tuple(frames)


def _unfiltered(frame: FrameType | None, first_line: int) -> Stack:
    frames: list[Frame] = []
    start = frame
    while frame is not None and len(frames) < MAX_FRAMES:
        code = frame.f_code
        if not is_own(code.co_filename):
            line = first_line if first_line >= 0 and frame is start else (frame.f_lineno or 0)
            frames.append(frame_of(code, line))
        frame = frame.f_back
    return tuple(frames)


def user_frame() -> FrameType | None:
    """The innermost frame that is not lockgraph's own."""
    frame: FrameType | None = _getframe(1)
    while frame is not None and is_own(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def current_stack() -> Stack:
    return stack_from(_getframe(1))


def entry_stack(
    code: CodeType | None, line: int, frame_id: int, start: FrameType | None = None
) -> Stack:
    """The site of a held-stack entry: the full stack if its frame still runs (in the
    calling thread, or from ``start``: another thread's current frame)."""
    if code is None:
        return ()
    frame: FrameType | None = start if start is not None else _getframe(1)
    while frame is not None:
        if id(frame) == frame_id and frame.f_code is code:
            return stack_from(frame, line)
        frame = frame.f_back
    return (frame_of(code, line),)


class CreationSite:
    """Where a lock was made: the class name and the stack."""

    __slots__ = ("kind", "name", "stack")

    def __init__(self, kind: str, name: str, stack: Stack) -> None:
        self.kind = kind
        self.name = name
        self.stack = stack


MAX_FACTORY_HOPS = 4
"""Frames a creation is followed outwards through ``return`` (a ``_create_lock()``)."""

_QUEUE = os.path.join(os.path.dirname(_THREADING), "queue.py")
_OWNED = {_THREADING: False, _QUEUE: True}
"""Modules whose objects' locks belong to the object: the class is the caller's call
that made the object. ``True``: the attribute path is kept (``jobs.mutex``)."""
_PY310 = sys.version_info < (3, 11)

_sites: dict[tuple[Any, ...], CreationSite] = {}


def creation_site(kind: str, depth: int = 2, skip: str = "") -> CreationSite:
    """The class of a lock being created ``depth`` frames up from the caller.

    The class is the creating *call* (code object and instruction), so two locks made
    on one line are two classes. Frames in lockgraph and under the directory ``skip``
    are passed over; so are ``threading``'s and ``queue``'s (a ``Condition()``'s lock,
    a ``Queue()``'s mutex belong to the call that made the Condition or the Queue). A
    call whose result is returned at once (a ``_create_lock()`` helper) is followed
    to its caller, up to ``MAX_FACTORY_HOPS`` frames. Everything but the walk is
    cached per call site: a lock's creation costs a few frame hops and dict lookups,
    its acquisitions nothing.
    """
    frame: FrameType | None = _getframe(depth)
    made = kind
    path: list[str] = []
    first: FrameType | None = None
    hops = 0
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        owned = _OWNED.get(filename)
        if owned is not None or is_own(filename) or (skip and filename.startswith(skip)):
            if code.co_name == "__init__" and not is_own(filename):
                owner = frame.f_locals.get("self")
                if owner is not None:
                    made = type(owner).__name__
                if owned:
                    what, attr = target(code, frame.f_lasti)
                    if what == "self":
                        path.insert(0, attr)
            frame = frame.f_back
            continue
        if first is None:
            first = frame
        if hops < MAX_FACTORY_HOPS and frame.f_back is not None:
            what = target(code, frame.f_lasti)[0]
            # a factory's ``return``, or a subclass's ``super().__init__()`` of an
            # object that owns locks (a Queue subclass): the caller's call decides
            if what == "return" or (what == "discard" and path and code.co_name == "__init__"):
                hops += 1
                frame = frame.f_back
                continue
        break
    if frame is None or first is None:
        return CreationSite(made, f"{made}@?", ())
    key = (frame.f_code, frame.f_lasti, made, *path)
    site = _sites.get(key)
    if site is None:
        if len(_sites) >= _FRAME_CACHE_LIMIT:
            _sites.clear()
        name = program_name(frame, made)
        if path:
            name = f"{name}.{'.'.join(path)}"
        site = _sites[key] = CreationSite(made, name, stack_from(first))
    return site


# -- names from the program ------------------------------------------------------

_Op = tuple[int, str, Any, int, int]
"""(offset, opname, argval, line, column) of one instruction (no caches)."""

_code_ops: dict[int, tuple[CodeType, list[_Op], list[int]]] = {}
_targets: dict[tuple[int, int], tuple[CodeType, tuple[str, str]]] = {}
_claimed: dict[str, str] = {}
"""Program names given so far -> who owns them (module and owner): a second owner of
a name (``Cache._lock`` in two modules) gets it qualified with its module."""

_LOADS_BEFORE_CALL = ("PUSH_NULL", "PRECALL", "KW_NAMES", "NOP", "EXTENDED_ARG")


def _ops(code: CodeType) -> tuple[list[_Op], list[int]]:
    hit = _code_ops.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1], hit[2]
    if len(_code_ops) >= _FRAME_CACHE_LIMIT:
        _code_ops.clear()
    ops: list[_Op] = []
    line = 0
    for ins in dis.get_instructions(code):
        if ins.opname == "CACHE":
            continue
        col = -1
        positions = getattr(ins, "positions", None)
        if positions is not None and positions.lineno is not None:
            line = positions.lineno
            col = positions.col_offset if positions.col_offset is not None else -1
        elif _PY310 and ins.starts_line:
            line = int(ins.starts_line)
        ops.append((ins.offset, ins.opname, ins.argval, line, col))
    offsets = [op[0] for op in ops]
    _code_ops[id(code)] = (code, ops, offsets)
    return ops, offsets


def _store_at(code: CodeType, ops: list[_Op], j: int) -> tuple[tuple[str, str], int]:
    """The store at ``ops[j]``: (what, name) and the index after it (what: ``""`` none)."""
    if j >= len(ops):
        return ("", ""), j
    name = ops[j][1]
    arg = str(ops[j][2])
    if name == "STORE_GLOBAL" or (name == "STORE_NAME" and code.co_name == "<module>"):
        return ("global", arg), j + 1
    if name == "STORE_NAME":
        return ("classbody", arg), j + 1
    if name in ("STORE_FAST", "STORE_DEREF"):
        return ("local", arg), j + 1
    if name.startswith("LOAD_") and j + 1 < len(ops) and ops[j + 1][1] == "STORE_ATTR":
        attr = str(ops[j + 1][2])
        first_arg = code.co_varnames[0] if code.co_argcount else None
        if name in ("LOAD_FAST", "LOAD_FAST_CHECK") and arg == first_arg:
            return ("self", attr), j + 2
        if name in ("LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF"):
            return ("obj", f"{arg}.{attr}"), j + 2
    return ("", ""), j


def _returns_local(ops: list[_Op], k: int, name: str | None, pair: Any = None) -> bool:
    """Whether ``ops[k:]`` returns the local just stored (``name``, or the store and
    load of a fused ``STORE_FAST_LOAD_FAST`` naming one variable)."""
    if pair is not None:
        return (
            isinstance(pair, tuple)
            and len(pair) == 2
            and pair[0] == pair[1]
            and k < len(ops)
            and ops[k][1] == "RETURN_VALUE"
        )
    return (
        k + 1 < len(ops)
        and ops[k][1] in ("LOAD_FAST", "LOAD_FAST_CHECK")
        and ops[k][2] == name
        and ops[k + 1][1] == "RETURN_VALUE"
    )


def _is_swap(op: _Op) -> bool:
    return op[1] == "ROT_TWO" or (op[1] == "SWAP" and op[2] == 2)


def target(code: CodeType, lasti: int) -> tuple[str, str]:
    """What the program does with the result of the call at ``lasti`` in ``code``:
    ``("return", "")``, ``("discard", "")``, a store (``"self"``, ``"global"``, ``"classbody"``,
    ``"obj"``, ``"local"`` and the name), or ``("", "")``. Cached per call site."""
    key = (id(code), lasti)
    hit = _targets.get(key)
    if hit is not None and hit[0] is code:
        return hit[1]
    if len(_targets) >= _FRAME_CACHE_LIMIT:
        _targets.clear()
    result = _find_target(code, lasti)
    _targets[key] = (code, result)
    return result


def _find_target(code: CodeType, lasti: int) -> tuple[str, str]:
    try:
        ops, offsets = _ops(code)
    except Exception:  # a code object dis cannot read
        return ("", "")
    i = bisect.bisect_right(offsets, lasti) - 1
    j = i + 1
    if i < 0 or j >= len(ops):
        return ("", "")
    if ops[j][1] == "RETURN_VALUE":
        return ("return", "")
    if ops[j][1] == "POP_TOP":
        return ("discard", "")
    if _is_swap(ops[j]):  # ``a, b = x(), y()``: this is y(), stored second
        first, k = _store_at(code, ops, j + 1)
        return _store_at(code, ops, k)[0] if first[0] else ("", "")
    found, k = _store_at(code, ops, j)
    if found[0] == "local" and _returns_local(ops, k, found[1]):
        return ("return", "")  # ``lock = RLock(); return lock``: a factory too
    if ops[j][1] == "STORE_FAST_LOAD_FAST" and _returns_local(ops, j + 1, None, ops[j][2]):
        return ("return", "")  # the same, as Python 3.13 compiles it
    if found[0]:
        return found
    # ``a, b = x(), y()``: this is x() if only loads and one call come before the swap
    k = j
    while (
        k < len(ops)
        and k < j + 12
        and (ops[k][1].startswith("LOAD_") or ops[k][1] in _LOADS_BEFORE_CALL)
    ):
        k += 1
    if k + 1 < len(ops) and ops[k][1].startswith("CALL") and _is_swap(ops[k + 1]):
        return _store_at(code, ops, k + 2)[0]
    return ("", "")


def _module(frame: FrameType) -> str:
    name = str(frame.f_globals.get("__name__") or "")
    if not name or name == "__main__":
        name = os.path.splitext(os.path.basename(frame.f_code.co_filename))[0]
    return name


def _owner_class(frame: FrameType, code: CodeType) -> str:
    """The class whose method ``code`` is (``Cache`` for ``Cache.__init__``)."""
    parts = str(getattr(code, "co_qualname", "")).split(".")
    if len(parts) >= 2 and parts[-2] != "<locals>":
        return parts[-2]
    obj = frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None
    cls = obj if isinstance(obj, type) else type(obj)
    for c in cls.__mro__:
        fn = c.__dict__.get(code.co_name)
        if getattr(getattr(fn, "__func__", fn), "__code__", None) is code:
            return c.__name__
    return cls.__name__


def _call_suffix(code: CodeType, lasti: int, line: int) -> str:
    """``:COLUMN`` (``:callN`` on 3.10) when the line has more than one call."""
    ops, offsets = _ops(code)
    calls = [
        op for op in ops if op[3] == line and op[1].startswith("CALL") and "INTRINSIC" not in op[1]
    ]
    if len(calls) < 2:
        return ""
    i = bisect.bisect_right(offsets, lasti) - 1
    mine = ops[i] if i >= 0 else None
    if mine is None:
        return ""
    if mine[4] >= 0:  # 3.11+: the column where the call starts (1-based, as editors)
        return f":{mine[4] + 1}"
    n = next((k for k, op in enumerate(calls) if op[0] == mine[0]), 0)
    return f":call{n + 1}"


def program_name(frame: FrameType, made: str) -> str:
    """The class name of a lock created by the call ``frame`` is in: where the program
    keeps the result (``Cache._lock``, ``app.REGISTRY_LOCK``), else ``made@file:line``."""
    code = frame.f_code
    what, name = target(code, frame.f_lasti)
    module = ""
    base = ""
    owner = ""
    try:
        if what == "self":
            module = _module(frame)
            owner = _owner_class(frame, code)
            base = f"{owner}.{name}"
        elif what == "global":
            base = f"{_module(frame)}.{name}"
        elif what == "classbody":
            module = _module(frame)
            owner = str(frame.f_locals.get("__qualname__", code.co_name))
            base = f"{owner}.{name}"
        elif what == "obj":
            var, _, attr = name.partition(".")
            value = frame.f_locals.get(var, frame.f_globals.get(var))
            if isinstance(value, type(os)):
                base = f"{value.__name__}.{attr}"
            elif value is not None:
                module = _module(frame)
                owner = type(value).__name__
                base = f"{owner}.{attr}"
    except Exception:  # a frame whose locals cannot be read: the site names it
        base = ""
    if not base:
        line = frame.f_lineno or 0
        shown = display_path(code.co_filename)
        return f"{made}@{shown}:{line}{_call_suffix(code, frame.f_lasti, line)}"
    if module:
        claim = f"{module}:{owner}"
        holder = _claimed.setdefault(base, claim)
        if holder != claim:
            base = f"{module}.{base}"
    return base
