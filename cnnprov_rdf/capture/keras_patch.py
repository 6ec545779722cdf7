"""How the Keras callback learns the arguments of `fit`/`evaluate` and the files a model saves.

A Keras callback sees `self.params` (epochs, steps) and the model, not the arguments of the call it runs in
(batch size, validation split, shuffle, the training data, its sibling callbacks), and not the files
`Model.save`/`save_weights` write. `MODEL_PATCH` provides them, in the manner of MLflow's autologging: an
explicit, reversible, reference-counted patch of `keras.Model` at class level.

* It is installed while at least one `CallObserver` (a `ProvenanceCallback`) holds it, from the callback's
  creation until it is closed or collected, and while a patched call runs. Importing
  `capture.keras` reserves it for the first callback, because in `model.fit(callbacks=[ProvenanceCallback()])`
  Python looks `fit` up before the callback exists; the first callback takes that hold over. The last
  user's release puts the originals back: afterwards `keras.Model.fit` (`evaluate`, `save`, `save_weights`)
  is the original function again (inherited ones are deleted from `keras.Model`, not shadowed), no model
  instance is touched, and `sys.excepthook` never is.
* The `fit`/`evaluate` wrapper binds the call's arguments with `inspect.signature(original).bind(...)`
  (defaults applied; no stack frames are read) and hands them, as a `KerasCall`, to every observer in its
  `callbacks` argument before the original runs. An exception escaping the call is handed to them
  (`call_failed`), then re-raised unchanged.
* The `save`/`save_weights` wrapper hands the written path to every observer holding the patch or inside a
  call (`file_saved`), once per outermost save.

Observers' failures are logged, never raised into training. Without the patch (a `fit` looked up while
nobody held it), a callback falls back to `self.params` and the model.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import keras  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

#: The methods of `keras.Model` that are wrapped while the patch is installed.
PATCHED = ("fit", "evaluate", "save", "save_weights")
_CALLS = ("fit", "evaluate")


@dataclass(frozen=True)
class KerasCall:
    """One running `fit` or `evaluate`: the model and every argument (bound, defaults applied)."""

    method: str
    model: keras.Model
    arguments: Mapping[str, Any]


class CallObserver:
    """What the patch reports to: a callback in a call's `callbacks`, or one that holds the patch."""

    def call_started(self, call: KerasCall) -> None:
        """`call` is about to run (before any callback hook)."""

    def call_failed(self, call: KerasCall, error: BaseException) -> None:
        """`error` escapes `call`; it is re-raised unchanged afterwards."""

    def call_ended(self, call: KerasCall) -> None:
        """`call` returned or raised."""

    def file_saved(self, model: keras.Model, filepath: Any) -> None:
        """`model.save(filepath)` or `model.save_weights(filepath)` has written it."""


def _observers(callbacks: Any) -> list[CallObserver]:
    """The observers among a call's callbacks (a list, or Keras' `CallbackList`)."""
    items = getattr(callbacks, "callbacks", callbacks)
    if not isinstance(items, Iterable):
        return []
    return [callback for callback in items if isinstance(callback, CallObserver)]


def _tell(observers: Iterable[CallObserver], hook: str, *args: Any) -> None:
    for observer in observers:
        try:
            getattr(observer, hook)(*args)
        except Exception:
            log.warning("cnnprov-rdf: %s.%s failed; training continues", type(observer).__name__, hook,
                        exc_info=True)


class PatchHold:
    """One observer's hold on the patch; `release()` gives it back (once; later calls do nothing)."""

    def __init__(self, patch: ModelPatch, observer: CallObserver | None) -> None:
        self._patch = patch
        # a hold must not keep its callback alive
        self._observer: weakref.ref[CallObserver] | None = weakref.ref(observer) if observer is not None else None
        self.released = False

    def release(self) -> None:
        self._patch._give_back(self)


class ModelPatch:
    """The reversible, reference-counted class-level patch of `keras.Model` (see the module docstring)."""

    def __init__(self, model_class: type = keras.Model) -> None:
        self.model_class = model_class
        self._lock = threading.RLock()
        self._users = 0
        self._originals: dict[str, tuple[bool, Any, Callable[..., Any]]] = {}  # name: (own, raw, wrapper)
        self._armed: weakref.WeakSet[CallObserver] = weakref.WeakSet()
        self._calling: weakref.WeakKeyDictionary[CallObserver, int] = weakref.WeakKeyDictionary()  # call depth
        self._saving = threading.local()
        self._reserved: PatchHold | None = None

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    def originals(self) -> dict[str, Any]:
        """What `keras.Model.__dict__` holds for each patched name when the patch is not installed (None: the
        method is inherited, from Keras' trainer)."""
        with self._lock:
            if self._originals:
                return {name: raw if own else None for name, (own, raw, _) in self._originals.items()}
            return {name: self.model_class.__dict__.get(name) for name in PATCHED}

    @property
    def users(self) -> int:
        """Holds plus running patched calls."""
        return self._users

    def hold(self, observer: CallObserver) -> PatchHold:
        """Install the patch (if it is not) for `observer` until the returned hold is released (the reserved
        hold, if there is one, becomes `observer`'s)."""
        with self._lock:
            hold, self._reserved = self._reserved, None
            if hold is None or hold.released:
                self._acquire()
                hold = PatchHold(self, observer)
            hold._observer = weakref.ref(observer)
            self._armed.add(observer)
            return hold

    def reserve(self) -> None:
        """Install the patch for the next observer to come: `fit` in `model.fit(callbacks=[Observer()])` is
        looked up before the observer exists. The next `hold()` takes this hold over."""
        with self._lock:
            if self._reserved is None or self._reserved.released:
                self._acquire()
                self._reserved = PatchHold(self, None)

    def _give_back(self, hold: PatchHold) -> None:
        with self._lock:
            if hold.released:
                return
            hold.released = True
            observer = hold._observer() if hold._observer is not None else None
            if observer is not None:
                self._armed.discard(observer)
            self._release()

    def _acquire(self) -> None:
        with self._lock:
            if self._users == 0:
                self._install()
            self._users += 1

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._users = 0
                self._uninstall()

    # --- installing ---------------------------------------------------------------------------------

    def _install(self) -> None:
        for name in PATCHED:
            own = name in self.model_class.__dict__
            raw = self.model_class.__dict__.get(name)
            original = getattr(self.model_class, name)
            wrapper = self._wrap_call(name, original) if name in _CALLS else self._wrap_save(original)
            self._originals[name] = (own, raw, wrapper)
            setattr(self.model_class, name, wrapper)

    def _uninstall(self) -> None:
        for name, (own, raw, wrapper) in self._originals.items():
            if self.model_class.__dict__.get(name) is not wrapper:
                log.warning("cnnprov-rdf: keras.Model.%s was replaced by someone else; left as it is", name)
            elif own:
                setattr(self.model_class, name, raw)
            else:
                delattr(self.model_class, name)
        self._originals.clear()

    def _wrap_call(self, method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def wrapper(model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            observers: list[CallObserver] = []
            call: KerasCall | None = None
            try:
                bound = signature.bind(model, *args, **kwargs)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop(next(iter(signature.parameters)), None)  # self
                for name, parameter in signature.parameters.items():
                    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                        arguments.update(arguments.pop(name, None) or {})
                call = KerasCall(method, model, arguments)
                observers = _observers(arguments.get("callbacks"))
            except Exception:  # a call Keras will reject itself (a TypeError), or odd callbacks: observe nothing
                log.debug("cnnprov-rdf: could not bind the arguments of %s", method, exc_info=True)
            self._acquire()
            try:
                if call is not None:
                    with self._lock:
                        for observer in observers:
                            self._calling[observer] = self._calling.get(observer, 0) + 1
                    _tell(observers, "call_started", call)
                try:
                    return original(model, *args, **kwargs)
                except BaseException as error:
                    _tell(observers, "call_failed", call, error)
                    raise
                finally:
                    _tell(observers, "call_ended", call)
            finally:
                with self._lock:
                    for observer in observers:
                        depth = self._calling.pop(observer, 0) - 1
                        if depth > 0:
                            self._calling[observer] = depth
                self._release()

        return wrapper

    def _wrap_save(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._saving, "depth", 0)
            self._saving.depth = depth + 1
            try:
                result = original(model, *args, **kwargs)
            finally:
                self._saving.depth = depth
            if depth == 0:
                filepath = args[0] if args else kwargs.get("filepath")
                with self._lock:
                    observers = {*self._armed, *self._calling.keys()}
                _tell(observers, "file_saved", model, filepath)
            return result

        return wrapper


#: The patch of `keras.Model` shared by every `ProvenanceCallback` of this process.
MODEL_PATCH = ModelPatch()
