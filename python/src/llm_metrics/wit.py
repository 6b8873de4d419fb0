"""WIT values from wasmtime-py to the dataclasses of ``llm_metrics.types``, and back.

Invariant: a converter is built once per exported function from two
descriptions of the same contract, the component's own types (wasmtime-py's
``RecordType``, ``VariantType``, ...) and the dataclasses, walked side by side;
any difference (a record field, a variant case, a kind of value) raises
``ContractError`` at load time, naming the path, so no call ever drops or
invents a field. wasmtime-py hands records over as objects whose attributes
keep the WIT (kebab-case) names, and a variant either as ``Variant(tag,
payload)`` or, when its cases' Python classes differ, as the bare payload; the
converters undo both.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from wasmtime.component import (
    Bool, Char, EnumType, F32, F64, ListType, OptionType, Record, RecordType, ResultType,
    S8, S16, S32, S64, String, TupleType, U8, U16, U32, U64, ValType, Variant, VariantType,
)

from .errors import ContractError, LlmMetricsError
from . import types as t

Convert = Callable[[Any], Any]

INTS = (S8, S16, S32, S64, U8, U16, U32, U64)
FLOATS = (F32, F64)

COLLECT_ERROR_CASES: Dict[str, Any] = {
    "invalid-url": str,
    "denied": str,
    "connect": str,
    "timeout": str,
    "http-status": int,
    "body-too-large": int,
    "not-an-exposition": str,
    "parse": t.ParseError,
    "unrecognized-engine": str,
    "unknown-engine": str,
    "mixed-engines": List[str],
    "transport": str,
}
"""``collect-error``'s cases and their details (the kinds of ``LlmMetricsError``)."""

WINDOW_ERROR_CASES: Dict[str, Any] = {
    "different-engines": t.Pair,
    "different-instances": t.Pair,
    "bucket-layout-changed": str,
    "not-later": t.MsPair,
}
"""``window-error``'s cases and their details."""

VARIANTS: List[Tuple[Any, Dict[str, Any]]] = [(t.MetricValue, t.METRIC_VALUE_CASES)]
"""Python unions that stand for WIT variants, with their cases."""


def snake(name: str) -> str:
    """A WIT name as a Python identifier: ``instance-id`` -> ``instance_id``."""
    return name.replace("-", "_")


def _args(hint: Any) -> Tuple[Any, ...]:
    return typing.get_args(hint)


def _optional(hint: Any) -> Optional[Any]:
    """``X`` when ``hint`` is ``Optional[X]``."""
    if typing.get_origin(hint) is Union:
        rest = [a for a in _args(hint) if a is not type(None)]
        if len(rest) == 1 and len(_args(hint)) == 2:
            return rest[0]
    return None


def _cases_of(hint: Any) -> Optional[Dict[str, Any]]:
    for union, cases in VARIANTS:
        if hint == union:
            return cases
    return None


def _classes(vt: ValType) -> Tuple[type, ...]:
    """The Python classes wasmtime-py lifts ``vt`` to (how it tells bare variant payloads apart)."""
    s: set = set()
    vt.add_classes(s)
    return tuple(s)


def _mismatch(path: str, vt: ValType, hint: Any) -> ContractError:
    return ContractError(f"{path}: the component has {type(vt).__name__}, the package {hint!r}")


def _fields(cls: Any) -> Dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _check_names(path: str, wit: List[str], py: List[str], what: str) -> None:
    if set(wit) != set(py):
        only_wit = sorted(set(wit) - set(py))
        only_py = sorted(set(py) - set(wit))
        raise ContractError(
            f"{path}: {what} differ; only in the component: {only_wit}, only in the package: {only_py}"
        )


def lift(vt: ValType, hint: Any, path: str) -> Convert:
    """A converter from the value wasmtime-py lifts for ``vt`` to ``hint``."""
    return _convert(vt, hint, path, up=True)


def lower(vt: ValType, hint: Any, path: str) -> Convert:
    """A converter from ``hint``'s Python value to what wasmtime-py lowers for ``vt``."""
    return _convert(vt, hint, path, up=False)


def _convert(vt: ValType, hint: Any, path: str, up: bool) -> Convert:
    """``lift`` (``up``) or ``lower``: the same walk, either direction."""
    inner = _optional(hint)
    if isinstance(vt, OptionType):
        if inner is None:
            raise _mismatch(path, vt, hint)
        payload = _convert(vt.payload, inner, path, up)
        return lambda v: None if v is None else payload(v)
    if inner is not None:
        raise _mismatch(path, vt, hint)
    if isinstance(vt, Bool) and hint is bool:
        return bool
    if isinstance(vt, INTS) and hint is int:
        return int
    if isinstance(vt, FLOATS) and hint is float:
        return float
    if isinstance(vt, (String, Char, EnumType)) and hint is str:
        return str
    if isinstance(vt, ListType):
        if hint is bytes and isinstance(vt.element, U8):
            return bytes
        if typing.get_origin(hint) is list:
            element = _convert(vt.element, _args(hint)[0], f"{path}[]", up)
            return lambda v: [element(x) for x in v]
        raise _mismatch(path, vt, hint)
    if isinstance(vt, RecordType) and dataclasses.is_dataclass(hint):
        return _record(vt, hint, path, up)
    if isinstance(vt, TupleType):
        return _tuple(vt, hint, path, up)
    cases = _cases_of(hint)
    if isinstance(vt, VariantType) and cases is not None:
        if not up:
            return _lower_variant(vt, cases, path)
        variant = lift_variant(vt, cases, path)
        return lambda v: variant(v)[1]
    raise _mismatch(path, vt, hint)


def _record(vt: RecordType, cls: Any, path: str, up: bool) -> Convert:
    py = _fields(cls)
    wit = vt.fields
    _check_names(f"{path} ({cls.__name__})", [snake(n) for n, _ in wit], list(py), "fields")
    convs = [(n, snake(n), _convert(ty, py[snake(n)], f"{path}.{snake(n)}", up)) for n, ty in wit]
    if up:
        return lambda v: cls(**{p: c(getattr(v, w)) for w, p, c in convs})

    def convert(v: Any) -> Record:
        r = Record()
        for w, p, c in convs:
            setattr(r, w, c(getattr(v, p)))
        return r

    return convert


def _tuple(vt: TupleType, hint: Any, path: str, up: bool) -> Convert:
    elements = vt.elements
    if dataclasses.is_dataclass(hint):
        # A tuple payload the package names, e.g. `by-label` -> ByLabel.
        py = list(_fields(hint).items())
        if len(py) != len(elements):
            raise _mismatch(path, vt, hint)
        convs = [(n, _convert(e, h, f"{path}.{n}", up)) for e, (n, h) in zip(elements, py)]
        if up:
            return lambda v: hint(*(c(x) for (_, c), x in zip(convs, v)))
        return lambda v: tuple(c(getattr(v, n)) for n, c in convs)
    if typing.get_origin(hint) is tuple and len(_args(hint)) == len(elements):
        items = [_convert(e, h, f"{path}.{i}", up)
                 for i, (e, h) in enumerate(zip(elements, _args(hint)))]
        return lambda v: tuple(c(x) for c, x in zip(items, v))
    raise _mismatch(path, vt, hint)


def lift_variant(vt: VariantType, cases: Dict[str, Any], path: str) -> Callable[[Any], Tuple[str, Any]]:
    """A converter to ``(case, payload)`` for a WIT variant whose cases are ``cases``."""
    wit = vt.cases
    _check_names(path, [n for n, _ in wit], list(cases), "variant cases")
    convs: Dict[str, Convert] = {}
    for name, ty in wit:
        if ty is None:
            raise ContractError(f"{path}: case {name} has no payload; the package expects one")
        convs[name] = lift(ty, cases[name], f"{path}<{name}>")
    if vt._tagged():
        return lambda v: (v.tag, convs[v.tag](v.payload))
    # Untagged: wasmtime-py returned the bare payload; its class says the case.
    by_class = [(name, _classes(ty)) for name, ty in wit if ty is not None]

    def convert(v: Any) -> Tuple[str, Any]:
        for name, classes in by_class:
            if isinstance(v, classes):
                return name, convs[name](v)
        raise ContractError(f"{path}: a {type(v).__name__} matches no case")

    return convert


def _case_of(value: Any, cases: Dict[str, Any]) -> str:
    """Which case a Python value of a variant union is."""
    for name, hint in cases.items():
        origin = typing.get_origin(hint) or hint
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return name
        if origin is not float and isinstance(value, origin):
            return name
    raise TypeError(f"{value!r} is none of {sorted(cases)}")


def _lower_variant(vt: VariantType, cases: Dict[str, Any], path: str) -> Convert:
    wit = dict(vt.cases)
    _check_names(path, list(wit), list(cases), "variant cases")
    convs = {n: lower(wit[n], h, f"{path}<{n}>") for n, h in cases.items()}
    tagged = vt._tagged()

    def convert(v: Any) -> Any:
        name = _case_of(v, cases)
        payload = convs[name](v)
        return Variant(name, payload) if tagged else payload

    return convert


class Function:
    """One exported function, with converters for its arguments and result.

    ``err`` is what the function's ``result`` error is: a dataclass (a record
    error, raised with ``error_kind``) or a case table (a variant, raised with
    its case as the kind).
    """

    def __init__(self, name: str, ty: Any, params: List[Any], ok: Any,
                 err: Any = None, error_kind: str = "") -> None:
        self.name = name
        fparams = ty.params
        if len(fparams) != len(params):
            raise ContractError(f"{name}: {len(fparams)} parameters in the component, "
                                f"{len(params)} in the package")
        self.lowers = [lower(vt, h, f"{name}({pname})") for (pname, vt), h in zip(fparams, params)]
        result = ty.result
        if err is None:
            self.lift_ok = lift(result, ok, f"{name}()")
            self.result_ty: Optional[ResultType] = None
            return
        if not isinstance(result, ResultType) or result.ok is None or result.err is None:
            raise ContractError(f"{name}: the component returns no result<ok, err>")
        self.result_ty = result
        self.lift_ok = lift(result.ok, ok, f"{name}() ok")
        self.ok_classes = _classes(result.ok)
        if isinstance(err, dict):
            if not isinstance(result.err, VariantType):
                raise _mismatch(f"{name}() err", result.err, err)
            self.lift_err: Callable[[Any], Tuple[str, Any]] = lift_variant(
                result.err, err, f"{name}() err")
        else:
            record = lift(result.err, err, f"{name}() err")
            self.lift_err = lambda v: (error_kind, record(v))
        self.tagged = result._tagged()

    def args(self, *values: Any) -> List[Any]:
        """The arguments as wasmtime-py takes them."""
        return [c(v) for c, v in zip(self.lowers, values)]

    def result(self, raw: Any) -> Any:
        """The typed result, or ``LlmMetricsError(kind, detail)`` raised."""
        if self.result_ty is None:
            return self.lift_ok(raw)
        if self.tagged:
            ok = raw.tag == "ok"
            payload = raw.payload
        else:
            ok = isinstance(raw, self.ok_classes)
            payload = raw
        if ok:
            return self.lift_ok(payload)
        kind, detail = self.lift_err(payload)
        raise LlmMetricsError(kind, detail)
