"""The restricted evaluator for expressions and scripts that come from documents.

A document from outside must not run code: an SCXML ``cond`` of
``__import__('os').system(...)`` is data, not an instruction.  Every expression
(and, for ``<script>``, every statement) is parsed with :mod:`ast` and checked
against a whitelist **when the document is loaded**, and then run by the small
tree-walking interpreter below, never by ``eval``.  What is allowed:

- literals (numbers, strings, ``None``/``True``/``False`` and the JSON spellings
  ``null``/``true``/``false``), lists, tuples, dicts, sets, f-strings;
- names from the datamodel and the system variables (``_event``, ``_sessionid``,
  ``_name``, ``_ioprocessors``); a name starting with ``__`` and the builtins that
  reach code or files (:data:`DENIED_NAMES`: ``eval``, ``open``, ``getattr``...)
  are refused;
- arithmetic, comparisons (``in``, ``is`` included), ``and``/``or``/``not``,
  conditional expressions, subscripts and slices;
- attribute access to names without a leading underscore (and not the few
  that reach frames or format strings: :data:`DENIED_ATTRIBUTES`);
- calls to :data:`ALLOWED_FUNCTIONS`, to ``In``, to methods reached by an
  allowed attribute (``_event.data.get('x')``), and to lambdas written in the
  document (a lambda's body is checked like any expression, and it runs in this
  interpreter, so it cannot escape);
- list, set and dict comprehensions (not generator expressions: a generator
  object leads to frames);
- in ``<script>``: assignments (``x = ...``, ``x.a = ...``, ``x[k] = ...``),
  augmented assignments, expression statements, ``if``/``elif``/``else`` and
  ``pass``.

Everything else (imports, ``def``, ``class``, ``while``, ``exec``, ``open``,
dunder names or attributes, starred calls) raises
:class:`~orderflow.errors.UnsafeExpressionError` at load time.  A syntax error is
not a safety problem: it is kept and raised when the expression runs, so SCXML
turns it into ``error.execution`` as the standard requires.

**The budget.**  A document must not exhaust the machine either.  At load,
an expression or script is at most :data:`MAX_SOURCE` characters and nests at
most :data:`MAX_NESTING` levels (5,000 unary minuses or ``1+`` chains are
refused, not a ``RecursionError``).  At run time, every operation that can
build a large value is metered *before* it builds it: an integer may have at
most :data:`MAX_INT_BITS` bits (``**``, ``*`` and ``<<`` are estimated from
their operands' bit lengths), a string, bytes or sequence at most
:data:`MAX_SIZE` characters or items (``*``, ``+``, ``%`` formatting and
f-string format specs, ``ljust``/``rjust``/``center``/``zfill``,
``expandtabs``, ``replace``, ``join``, ``translate``, ``extend``, ``sum``,
``str``/``repr`` of containers, ``range``), and one evaluation takes at most
:data:`MAX_STEPS` steps (nodes evaluated and items iterated, lambdas and
comprehensions included) with lambdas nested at most :data:`MAX_CALL_DEPTH`
calls deep.  A blown budget is an :class:`ExpressionFailed` (SCXML's
``error.execution``), never a hang or an exhausted machine.

``trusted=True`` (for documents you wrote yourself) compiles with Python's own
``compile`` and runs full Python, including ``def`` and ``class`` in scripts.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from orderflow.errors import UnsafeExpressionError

#: functions a restricted expression may call
ALLOWED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "str": lambda *args: _metered_text(str, *args),
    "int": int,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sum": lambda *args: _metered_sum(*args),
    "any": any,
    "all": all,
    "sorted": sorted,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "enumerate": enumerate,
    "zip": zip,
    "range": lambda *args: _bounded_range(*args),
    "repr": lambda value: _metered_text(repr, value),
}
#: names given by the evaluator itself (``hasattr`` refuses underscore names at run time)
SPECIAL_FUNCTIONS = frozenset({"hasattr", "In"})
#: JSON and ECMAScript spellings of the constants, as the W3C tests write them
CONSTANT_NAMES: dict[str, Any] = {"null": None, "true": True, "false": False}
#: attributes refused even without a leading underscore: frames, code, format strings
DENIED_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next",
    "format", "format_map", "mro", "func_globals", "co_code",
})  # fmt: skip

#: Python's builtins that reach code, files, frames or objects' insides: refused as names
DENIED_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "dir", "breakpoint", "input", "type", "object", "super", "memoryview", "classmethod",
    "staticmethod", "property", "help", "exit", "quit", "print", "iter", "next", "aiter",
    "anext", "issubclass", "isinstance", "callable", "id", "hash", "bytearray",
})  # fmt: skip

#: the budget (see the module doc): bits of an integer
MAX_INT_BITS = 4096
#: characters of a string or bytes, items of a sequence, a set or a mapping
MAX_SIZE = 1_000_000
#: the name this limit had before it covered strings as well
MAX_SEQUENCE = MAX_SIZE
#: steps of one evaluation (nodes evaluated, items iterated)
MAX_STEPS = 1_000_000
#: nested calls of lambdas written in documents
MAX_CALL_DEPTH = 64
#: characters of one expression or script, checked at load
MAX_SOURCE = 100_000
#: how deeply one expression or script may nest, checked at load
MAX_NESTING = 100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_EXPRESSION_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice,
    ast.Attribute, ast.Call, ast.keyword, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.JoinedStr, ast.FormattedValue, ast.Lambda, ast.arguments, ast.arg,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.comprehension,
    *_BINARY, *_UNARY, *_COMPARE,
)  # fmt: skip
_STATEMENT_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.Assign, ast.AugAssign, ast.Expr, ast.If, ast.Pass,
)  # fmt: skip


class ExpressionFailed(Exception):
    """An expression could not be evaluated (a syntax error, an unknown name, a refused value)."""


class Expression:
    """One expression from a document, checked at load and evaluated against a namespace."""

    __slots__ = ("_code", "_syntax_error", "_tree", "source", "trusted")

    def __init__(self, source: str, *, trusted: bool = False) -> None:
        self.source = source
        self.trusted = trusted
        self._tree: ast.expr | None = None
        self._code: Any = None
        self._syntax_error: str | None = None
        text = source.strip()
        try:
            tree = _parse(text, mode="eval")
        except SyntaxError as exc:
            self._syntax_error = f"{source!r} is not a valid expression: {exc.msg}"
            return
        if trusted:
            self._code = compile(tree, "<document>", "eval")
        else:
            check(tree, source, statements=False)
            self._tree = tree.body

    def evaluate(self, names: MutableMapping[str, Any]) -> Any:
        if self._syntax_error is not None:
            raise ExpressionFailed(self._syntax_error)
        if self._code is not None:
            return eval(self._code, _trusted_globals(names))  # trusted=True only
        assert self._tree is not None
        with _metered() as meter:
            return _Interpreter(names, meter).eval(self._tree)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


class Script:
    """The statements of a ``<script>``: restricted (see the module docstring) unless trusted."""

    __slots__ = ("_code", "_syntax_error", "_tree", "source")

    def __init__(self, source: str, *, trusted: bool = False) -> None:
        self.source = source
        self._tree: ast.Module | None = None
        self._code: Any = None
        self._syntax_error: str | None = None
        text = _dedent(source)
        try:
            tree = _parse(text, mode="exec")
        except SyntaxError as exc:
            self._syntax_error = f"the script is not valid Python: {exc.msg}"
            return
        if trusted:
            self._code = compile(tree, "<document>", "exec")
        else:
            check(tree, source, statements=True)
            self._tree = tree

    def run(self, names: MutableMapping[str, Any]) -> None:
        """Run against ``names``; new and changed variables are written back into it."""
        if self._syntax_error is not None:
            raise ExpressionFailed(self._syntax_error)
        if self._code is not None:
            before = _trusted_globals(names)
            scope = dict(before)
            exec(self._code, scope)  # trusted=True only
            for key, value in scope.items():
                if not key.startswith("__") and (key not in before or before[key] is not value):
                    names[key] = value
            return
        assert self._tree is not None
        with _metered() as meter:
            interpreter = _Interpreter(names, meter)
            for statement in self._tree.body:
                interpreter.execute(statement)


class Location:
    """An assignable location (``<assign location>``, ``idlocation``, ``<foreach item>``)."""

    __slots__ = ("_problem", "_target", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._target: ast.expr | None = None
        self._problem: str | None = None
        try:
            tree = _parse(source.strip(), mode="eval").body
        except SyntaxError:
            self._problem = f"{source!r} is not a location"
            return
        if not _is_target(tree):
            self._problem = f"{source!r} is not a location one can assign to"
            return
        check(ast.Expression(tree), source, statements=False)
        self._target = tree

    @property
    def name(self) -> str | None:
        """The variable at the root of the location (``foo`` for ``foo.bar[0]``)."""
        node = self._target
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def assign(self, names: MutableMapping[str, Any], value: Any) -> None:
        if self._target is None:
            raise ExpressionFailed(self._problem or f"{self.source!r} is not a location")
        with _metered() as meter:
            _Interpreter(names, meter).store(self._target, value)


def _parse(source: str, mode: str) -> Any:
    """``ast.parse`` without the tokenizer's warnings (``1s`` warns before it fails), within the
    load-time budget: :data:`MAX_SOURCE` characters, :data:`MAX_NESTING` levels."""
    if len(source) > MAX_SOURCE:
        raise UnsafeExpressionError(
            source[:60] + "...", f"it is longer than {MAX_SOURCE} characters"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            tree = ast.parse(source, mode=mode)
        except (RecursionError, MemoryError):
            raise UnsafeExpressionError(
                _shown(source), f"it nests deeper than {MAX_NESTING} levels"
            ) from None
    _check_nesting(tree, source)
    return tree


def _check_nesting(tree: ast.AST, source: str) -> None:
    """Refuse a tree deeper than :data:`MAX_NESTING` levels, walked without recursion."""
    pending: list[tuple[ast.AST, int]] = [(tree, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            raise UnsafeExpressionError(
                _shown(source), f"it nests deeper than {MAX_NESTING} levels"
            )
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _shown(source: str) -> str:
    return source if len(source) <= 80 else source[:77] + "..."


def check(tree: ast.AST, source: str, *, statements: bool) -> None:
    """Refuse, with :class:`UnsafeExpressionError`, anything outside the whitelist."""
    allowed = (*_EXPRESSION_NODES, *_STATEMENT_NODES) if statements else _EXPRESSION_NODES
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise UnsafeExpressionError(source, f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.Name) and (node.id.startswith("__") or node.id in DENIED_NAMES):
            raise UnsafeExpressionError(source, f"the name {node.id!r} is not allowed")
        if isinstance(node, ast.Attribute) and not _attribute_allowed(node.attr):
            raise UnsafeExpressionError(source, f"the attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.keyword) and node.arg is None:
            raise UnsafeExpressionError(source, "** arguments are not allowed")
        if isinstance(node, ast.Call):
            _check_call(node, source)
        if isinstance(node, ast.arguments) and (
            node.vararg or node.kwarg or node.kwonlyargs or node.posonlyargs
        ):
            raise UnsafeExpressionError(source, "a lambda may only take plain arguments")
        if isinstance(node, ast.comprehension) and node.is_async:
            raise UnsafeExpressionError(source, "async comprehensions are not allowed")
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not _is_target(target):
                    raise UnsafeExpressionError(
                        source, "only names, attributes and items are assignable"
                    )


def _check_call(node: ast.Call, source: str) -> None:
    func = node.func
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise UnsafeExpressionError(source, "* arguments are not allowed")
    if isinstance(func, ast.Name):
        if func.id in ALLOWED_FUNCTIONS or func.id in SPECIAL_FUNCTIONS:
            return
        return  # a datamodel variable: the interpreter calls only lambdas written in documents
    if isinstance(func, ast.Attribute | ast.Lambda | ast.Subscript | ast.Call):
        return  # a method reached by an allowed attribute, or a document lambda
    raise UnsafeExpressionError(source, f"calling {ast.unparse(func)!r} is not allowed")


def _attribute_allowed(name: str) -> bool:
    return not name.startswith("_") and name not in DENIED_ATTRIBUTES


def _is_target(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute | ast.Subscript):
        inner = node.value
        while isinstance(inner, ast.Attribute | ast.Subscript):
            inner = inner.value
        return isinstance(inner, ast.Name)
    return False


def _dedent(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    indent = first[: len(first) - len(first.lstrip())]
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in lines)


def _trusted_globals(names: Mapping[str, Any]) -> dict[str, Any]:
    scope = dict(names)
    for key, value in CONSTANT_NAMES.items():
        scope.setdefault(key, value)
    return scope


class Lambda:
    """A lambda written in a document: its body runs in the restricted interpreter."""

    __slots__ = ("_body", "_names", "_parameters")

    def __init__(
        self, parameters: tuple[str, ...], body: ast.expr, names: MutableMapping[str, Any]
    ) -> None:
        self._parameters = parameters
        self._body = body
        self._names = names

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self._parameters):
            raise ExpressionFailed(
                f"the lambda takes {len(self._parameters)} arguments, not {len(args)}"
            )
        scope = _Scope(self._names, dict(zip(self._parameters, args, strict=True)))
        meter = _METER.get() or _Meter()
        meter.calls += 1
        try:
            if meter.calls > MAX_CALL_DEPTH:
                raise ExpressionFailed(f"lambdas call each other more than {MAX_CALL_DEPTH} deep")
            return _Interpreter(scope, meter).eval(self._body)
        finally:
            meter.calls -= 1

    def __repr__(self) -> str:
        return f"<lambda ({', '.join(self._parameters)})>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Lambda:
        return self


class _Scope(MutableMapping[str, Any]):
    """Local names (a lambda's arguments, a comprehension's variables) over the outer names."""

    def __init__(self, outer: MutableMapping[str, Any], local: dict[str, Any]) -> None:
        self.outer = outer
        self.local = local

    def __getitem__(self, key: str) -> Any:
        if key in self.local:
            return self.local[key]
        return self.outer[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self.local:
            self.local[key] = value
        else:
            self.outer[key] = value

    def __delitem__(self, key: str) -> None:
        raise ExpressionFailed("deleting a variable is not supported")

    def __iter__(self) -> Any:
        return iter({**dict(self.outer), **self.local})

    def __len__(self) -> int:
        return len(set(self.outer) | set(self.local))

    def __contains__(self, key: object) -> bool:
        return key in self.local or key in self.outer


class _Meter:
    """What one evaluation has spent: steps, and how deep lambdas are calling each other."""

    __slots__ = ("calls", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.calls = 0

    def tick(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise ExpressionFailed(f"the evaluation took more than {MAX_STEPS} steps")


#: the meter of the evaluation running now, for lambdas called from inside it (by sorted, say)
_METER: ContextVar[_Meter | None] = ContextVar("orderflow_expression_meter", default=None)


@contextmanager
def _metered() -> Iterator[_Meter]:
    """The meter of a top-level evaluation (a nested one, a lambda's, shares its caller's)."""
    current = _METER.get()
    if current is not None:
        yield current
        return
    meter = _Meter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


class _Interpreter:
    """Evaluates checked trees; every value it reaches comes from the datamodel or a literal."""

    def __init__(self, names: MutableMapping[str, Any], meter: _Meter | None = None) -> None:
        self.names = names
        self.meter = meter or _Meter()

    # -- statements --------------------------------------------------------------------------

    def execute(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.store(target, value)
        elif isinstance(node, ast.AugAssign):
            current = self.eval(_as_load(node.target))
            self.store(node.target, self._binary(node.op, current, self.eval(node.value)))
        elif isinstance(node, ast.Expr):
            self.eval(node.value)
        elif isinstance(node, ast.If):
            for statement in node.body if self.eval(node.test) else node.orelse:
                self.execute(statement)
        elif not isinstance(node, ast.Pass):
            raise ExpressionFailed(f"{type(node).__name__} is not supported")

    def store(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value
        elif isinstance(target, ast.Attribute):
            owner = self.eval(target.value)
            if isinstance(owner, MutableMapping):
                owner[target.attr] = value
            else:
                setattr(owner, target.attr, value)
        elif isinstance(target, ast.Subscript):
            owner = self.eval(target.value)
            owner[self.eval(target.slice)] = value
        else:
            raise ExpressionFailed(f"cannot assign to {ast.unparse(target)!r}")

    # -- expressions -------------------------------------------------------------------------

    def eval(self, node: ast.expr) -> Any:
        self.meter.tick()
        method = getattr(self, f"_eval_{type(node).__name__}", None)
        if method is None:
            raise ExpressionFailed(f"{type(node).__name__} is not supported")
        return method(node)

    def _eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _eval_Name(self, node: ast.Name) -> Any:
        name = node.id
        try:
            return self.names[name]
        except KeyError:
            pass
        if name in CONSTANT_NAMES:
            return CONSTANT_NAMES[name]
        if name in ALLOWED_FUNCTIONS:
            return ALLOWED_FUNCTIONS[name]
        if name == "hasattr":
            return _safe_hasattr
        raise ExpressionFailed(f"name {name!r} is not defined")

    def _eval_BinOp(self, node: ast.BinOp) -> Any:
        return self._binary(node.op, self.eval(node.left), self.eval(node.right))

    def _binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        _check_binary(op, left, right)
        return _BINARY[type(op)](left, right)

    def _eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.eval(node.operand))

    def _eval_BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _eval_Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _eval_IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _eval_Subscript(self, node: ast.Subscript) -> Any:
        return self.eval(node.value)[self.eval(node.slice)]

    def _eval_Slice(self, node: ast.Slice) -> Any:
        return slice(
            self.eval(node.lower) if node.lower else None,
            self.eval(node.upper) if node.upper else None,
            self.eval(node.step) if node.step else None,
        )

    def _eval_Attribute(self, node: ast.Attribute) -> Any:
        if not _attribute_allowed(node.attr):
            raise ExpressionFailed(f"the attribute {node.attr!r} is not allowed")
        owner = self.eval(node.value)
        try:
            return getattr(owner, node.attr)
        except AttributeError:
            if isinstance(owner, Mapping) and node.attr in owner:
                return owner[node.attr]
            raise

    def _eval_Call(self, node: ast.Call) -> Any:
        func = self.eval(node.func)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in self.names
            and node.func.id not in SPECIAL_FUNCTIONS
            and not isinstance(func, Lambda)
        ):  # a datamodel variable: only a lambda written in a document may be called
            raise ExpressionFailed(f"{node.func.id!r} is not a function one may call")
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        args = _check_method(func, args)
        return func(*args, **kwargs)

    def _eval_List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _eval_Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _eval_Set(self, node: ast.Set) -> Any:
        return {self.eval(e) for e in node.elts}

    def _eval_Dict(self, node: ast.Dict) -> Any:
        result = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                result.update(self.eval(value))
            else:
                result[self.eval(key)] = self.eval(value)
        return result

    def _eval_JoinedStr(self, node: ast.JoinedStr) -> Any:
        parts = [str(self.eval(v)) for v in node.values]
        _check_size(sum(len(p) for p in parts), "the f-string")
        return "".join(parts)

    def _eval_FormattedValue(self, node: ast.FormattedValue) -> Any:
        value = self.eval(node.value)
        if node.conversion == ord("r"):
            value = repr(value)
        elif node.conversion == ord("s"):
            value = str(value)
        spec = self.eval(node.format_spec) if node.format_spec is not None else ""
        for number in re.findall(r"\d+", str(spec)):
            _check_size(int(number), "the format's width or precision")
        if not isinstance(value, str):
            _check_size(_text_size(value), "the value's text")
        return format(value, spec)

    def _eval_Lambda(self, node: ast.Lambda) -> Any:
        return Lambda(tuple(a.arg for a in node.args.args), node.body, self.names)

    def _eval_ListComp(self, node: ast.ListComp) -> Any:
        return [scope.eval(node.elt) for scope in self._comprehension(node.generators)]

    def _eval_SetComp(self, node: ast.SetComp) -> Any:
        return {scope.eval(node.elt) for scope in self._comprehension(node.generators)}

    def _eval_DictComp(self, node: ast.DictComp) -> Any:
        return {
            scope.eval(node.key): scope.eval(node.value)
            for scope in self._comprehension(node.generators)
        }

    def _comprehension(self, generators: list[ast.comprehension]) -> Iterable[_Interpreter]:
        def walk(index: int, scope: _Interpreter) -> Iterable[_Interpreter]:
            if index == len(generators):
                yield scope
                return
            generator = generators[index]
            for item in scope.eval(generator.iter):
                self.meter.tick()
                inner = _Interpreter(_Scope(scope.names, {}), self.meter)
                inner._bind(generator.target, item)
                if all(inner.eval(test) for test in generator.ifs):
                    yield from walk(index + 1, inner)

        return walk(0, self)

    def _bind(self, target: ast.expr, value: Any) -> None:
        assert isinstance(self.names, _Scope)
        if isinstance(target, ast.Name):
            self.names.local[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            for sub, item in zip(target.elts, value, strict=True):
                self._bind(sub, item)
        else:
            raise ExpressionFailed("a comprehension variable must be a name or a tuple of names")


def _as_load(node: ast.expr) -> ast.expr:
    """The target of an augmented assignment, re-read as an expression (``x.a`` in ``x.a += 1``)."""
    copied: ast.expr = _parse(ast.unparse(node), mode="eval").body
    return copied


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_SIZE:
        raise ExpressionFailed(f"a range of {len(numbers)} numbers is too large")
    return numbers


# -- the budget ------------------------------------------------------------------------------

_SIZED = (str, bytes, list, tuple)
#: a %-format's conversion: optional mapping key, flags, width, precision, length, type
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise ExpressionFailed(f"{what} would be {size} long; the limit is {MAX_SIZE}")


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise ExpressionFailed(f"{what} would have about {bits} bits; the limit is {MAX_INT_BITS}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_binary(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an operation whose result would blow the budget, before it is computed."""
    if isinstance(op, ast.Pow) and _is_int(left) and _is_int(right):
        if abs(left) > 1 and right > 0:
            # |left| >= 2: at least ``right`` bits (and past a float's range for the estimate)
            _check_bits(right, "the power")
            _check_bits(int(math.log2(abs(left)) * right) + 1, "the power")
    elif isinstance(op, ast.LShift) and _is_int(left) and _is_int(right):
        if left and right > 0:
            _check_bits(left.bit_length() + right, "the shift")
    elif isinstance(op, ast.Mult):
        if _is_int(left) and _is_int(right):
            _check_bits(left.bit_length() + right.bit_length(), "the product")
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, _SIZED) and _is_int(count):
                _check_size(len(sequence) * count, "the repetition")
    elif isinstance(op, ast.Add):
        if isinstance(left, _SIZED) and isinstance(right, _SIZED):
            _check_size(len(left) + len(right), "the concatenation")
    elif isinstance(op, ast.Mod) and isinstance(left, str | bytes):
        _check_size(_percent_size(left, right), "the formatted string")


def _percent_size(template: str | bytes, values: Any) -> int:
    """How long ``template % values`` can get: its widths, precisions and values' text."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    size = len(text)
    for width, precision, _ in _PERCENT.findall(text):
        if "*" in (width, precision):
            raise ExpressionFailed("a '*' width or precision is not allowed in a % format")
        size += int(width or 0) + int(precision or 0)
    if isinstance(values, Mapping):
        items: Iterable[Any] = values.values()
    elif isinstance(values, tuple):
        items = values
    else:
        items = (values,)
    for value in items:
        size += _text_size(value)
        if size > MAX_SIZE:
            break
    return size


def _text_size(value: Any) -> int:
    """About how long ``str(value)`` is, counted without building it (at most just past the limit)."""
    size = 0
    pending = [value]
    while pending and size <= MAX_SIZE:
        item = pending.pop()
        if isinstance(item, str | bytes):
            size += len(item) + 3
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 2
        elif isinstance(item, Mapping):
            size += 2 + 4 * len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            size += 2 + 2 * len(item)
            pending.extend(item)
        else:
            size += 24
    return size


def _metered_text(convert: Callable[..., str], *args: Any) -> str:
    """``str(...)`` or ``repr(...)``, refused when the text would blow the budget."""
    if args and not isinstance(args[0], str | bytes):
        _check_size(_text_size(args[0]), f"the {convert.__name__}() of the value")
    return convert(*args)


def _metered_sum(values: Iterable[Any], start: Any = 0) -> Any:
    """``sum``, refused when adding strings or sequences would blow the budget."""
    items = list(values)
    _check_size(len(items), "the sum's items")
    if isinstance(start, _SIZED):
        size = len(start)
        for item in items:
            size += len(item) if isinstance(item, _SIZED) else 0
            _check_size(size, "the sum")
    return sum(items, start)


#: methods of strings, bytes and lists that can build a value larger than their owner
_GROWING = frozenset({
    "ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate",
    "extend", "insert", "append",
})  # fmt: skip


def _check_method(func: Any, args: list[Any]) -> list[Any]:
    """Refuse a growing method call (``'a'.ljust(10**9)``) before it runs; its arguments as called."""
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if name not in _GROWING or not isinstance(owner, str | bytes | list):
        return args
    if name in ("ljust", "rjust", "center", "zfill") and args and _is_int(args[0]):
        _check_size(args[0], f"the {name}() width")
    elif name == "expandtabs":
        tab = b"\t" if isinstance(owner, bytes) else "\t"
        width = args[0] if args and _is_int(args[0]) else 8
        _check_size(len(owner) + owner.count(tab) * max(width, 0), "the expandtabs() result")  # type: ignore[arg-type]
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str | bytes):
        old, new = args[0], args[1]
        found = len(owner) + 1 if not old else owner.count(old)  # type: ignore[arg-type]
        if len(args) > 2 and _is_int(args[2]) and args[2] >= 0:
            found = min(found, args[2])
        grows = len(new) - len(old) if isinstance(new, str | bytes) else 0
        _check_size(len(owner) + found * max(grows, 0), "the replace() result")
    elif name == "join" and args:
        items = list(args[0])
        _check_size(len(items), "the join() items")
        size = len(owner) * max(len(items) - 1, 0)
        for item in items:
            size += len(item) if isinstance(item, str | bytes) else 0
            _check_size(size, "the join() result")
        return [items, *args[1:]]
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _check_size(len(owner) * longest, "the translate() result")
    elif name == "extend" and args:
        items = list(args[0])
        _check_size(len(owner) + len(items), "the list")
        return [items]
    elif name in ("append", "insert"):
        _check_size(len(owner) + 1, "the list")
    return args


def _safe_hasattr(value: Any, name: str) -> bool:
    if not isinstance(name, str) or not _attribute_allowed(name):
        raise ExpressionFailed(f"hasattr of {name!r} is not allowed")
    return hasattr(value, name)
