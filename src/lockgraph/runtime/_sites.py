"""Sites: Python stacks as the engine's ``Stack``, and lock classes by creation site.

A lock's class is, by default, where it was created (lockdep's per-init-site key):
the first frame outside ``threading`` and lockgraph, so a ``Condition()``,
``Semaphore()`` or ``Event()`` gets the class of the line that made it, not of the
line in ``threading.py`` that made its inner lock. The class name says what was
created and where: ``Condition@app/jobs.py:41``.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType

from lockgraph.engine.model import Frame, Stack

MAX_FRAMES = 24
"""Frames kept per stack (innermost first)."""

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_RUNTIME_DIR)
_THREADING = os.path.abspath(threading.__file__)
_SKIP_FOR_CLASS = {_THREADING}
_getframe = sys._getframe

_display: dict[str, str] = {}
_own: dict[str, bool] = {}
_cwd = os.getcwd()


def display_path(filename: str) -> str:
    """A file as reports show it: relative to the working directory when inside it."""
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


def frame_of(code: CodeType, line: int) -> Frame:
    return Frame(display_path(code.co_filename), line, code.co_name)


_FRAME_CACHE_LIMIT = 100_000
_frames: dict[tuple[int, int], tuple[CodeType, Frame | None]] = {}
"""(id(code), line) -> (code, its frame, or None for lockgraph's own): a stack costs one
lookup a frame. Keyed by identity (hashing a code object hashes its contents); the
entry keeps its code alive and is checked against it, so an id reused is a miss."""


def _frame(code: CodeType, line: int) -> Frame | None:
    if len(_frames) >= _FRAME_CACHE_LIMIT:
        _frames.clear()  # code made at run time (exec, templates) must not grow it forever
    made = None if is_own(code.co_filename) else frame_of(code, line)
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
    """The stack from ``frame`` outwards, lockgraph's own frames left out."""
    frames: list[Frame] = []
    known = _frames
    while frame is not None and len(frames) < MAX_FRAMES:
        code = frame.f_code
        key = id(code)
        if key in _outermost and _outermost[key] is code:
            while frames and frames[-1].file in _RUNPY_SHOWN:
                frames.pop()
            break
        line = first_line if first_line >= 0 and not frames else (frame.f_lineno or 0)
        entry = known.get((key, line))
        made = entry[1] if entry is not None and entry[0] is code else _frame(code, line)
        if made is not None:
            frames.append(made)
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


_sites: dict[tuple[CodeType, int, str], CreationSite] = {}


def creation_site(kind: str, depth: int = 2, skip: str = "") -> CreationSite:
    """The class of a lock being created ``depth`` frames up from the caller.

    Frames in ``threading``, in lockgraph, and in files under the directory ``skip``
    are passed over: the class is where user code asked for the object.
    """
    frame: FrameType | None = _getframe(depth)
    made = kind
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if filename in _SKIP_FOR_CLASS or is_own(filename) or (skip and filename.startswith(skip)):
            if code.co_name == "__init__":
                owner = frame.f_locals.get("self")
                if owner is not None:
                    made = type(owner).__name__
            frame = frame.f_back
            continue
        break
    if frame is None:
        return CreationSite(made, f"{made}@?", ())
    key = (frame.f_code, frame.f_lineno, made)
    site = _sites.get(key)
    if site is None:
        stack = stack_from(frame)
        top = stack[0] if stack else Frame("?", 0, "")
        site = _sites[key] = CreationSite(made, f"{made}@{top.file}:{top.line}", stack)
    return site
