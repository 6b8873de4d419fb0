"""Calling a component function through wasmtime-py, with byte lists passed in bulk.

Invariant: this does what wasmtime-py 50's ``Func.__call__`` does (lower the
arguments, call, lift the result, free the arguments), except that a
``list<u8>`` argument is written into wasmtime's value array with a few
strided copies instead of one Python call per byte. wasmtime-py lowers each
byte on its own, ~10 us a byte: 1 s for a 100 KB exposition, longer than the
component takes to parse and map it. The array's layout (element size, kind
and payload offsets) is read from wasmtime-py's own ctypes declarations, not
assumed; ``wasmtime`` is pinned (``==50.0.1``) since this uses its ``_ffi``.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, pointer
from typing import Any, List

from wasmtime import _ffi as ffi
from wasmtime.component import ListType, U8
from wasmtime.component._enter import enter_wasm

_VAL = ffi.wasmtime_component_val_t
_SIZE = ctypes.sizeof(_VAL)
_KIND = _VAL.kind.offset
_PAYLOAD = _VAL.of.offset
_U8 = bytes([ffi.WASMTIME_COMPONENT_U8.value])


def _lower_bytes(data: bytes, ptr: Any) -> None:
    """``data`` as a ``list<u8>`` value at ``ptr``."""
    n = len(data)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    if n:
        block = bytearray(_SIZE * n)
        block[_KIND::_SIZE] = _U8 * n
        block[_PAYLOAD::_SIZE] = data
        ctypes.memmove(raw.data, (ctypes.c_char * len(block)).from_buffer(block), len(block))
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
    ptr.contents.of.list = raw


def call(func: Any, store: Any, params: List[Any]) -> Any:
    """``func(store, *params)``, the result as wasmtime-py lifts it."""
    fty = func.type(store)
    param_tys = fty.params
    result_ty = fty.result
    if len(params) != len(param_tys):
        raise TypeError(f"{len(params)} arguments for {len(param_tys)} parameters")
    param_capi = (_VAL * len(params))()
    n = 0
    try:
        for (_, ty), val in zip(param_tys, params):
            if isinstance(ty, ListType) and isinstance(ty.element, U8) and isinstance(val, bytes):
                _lower_bytes(val, pointer(param_capi[n]))
            else:
                ty.convert_to_c(store, val, pointer(param_capi[n]))
            n += 1
        result_space = _VAL() if result_ty is not None else None

        def run() -> Any:
            return ffi.wasmtime_component_func_call(
                byref(func._func), store._context(), param_capi, n,
                byref(result_space) if result_space is not None else None,
                1 if result_space is not None else 0)

        enter_wasm(run)
        if result_space is None:
            return None
        return result_ty.convert_from_c(result_space)
    finally:
        for i in range(n):
            ffi.wasmtime_component_val_delete(byref(param_capi[i]))
