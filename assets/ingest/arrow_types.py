"""Arrow column types rewritten at any depth, through lists, maps and structs."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa


def retyped(kind: pa.DataType, rewrite: Callable[[pa.DataType], pa.DataType]) -> pa.DataType:
    """`kind` with `rewrite` applied to it and then to every type inside it (the types of list
    items, map keys and values, struct fields), at any depth. `rewrite` returns what it leaves
    alone unchanged."""
    kind = rewrite(kind)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        items = kind.value_field.with_type(retyped(kind.value_type, rewrite))
        if pa.types.is_fixed_size_list(kind):
            return pa.list_(items, kind.list_size)
        return pa.list_(items) if pa.types.is_list(kind) else pa.large_list(items)
    if pa.types.is_map(kind):
        return pa.map_(retyped(kind.key_type, rewrite), retyped(kind.item_type, rewrite))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(retyped(f.type, rewrite)) for f in kind.fields])
    return kind


def retyped_schema(schema: pa.Schema, rewrite: Callable[[pa.DataType], pa.DataType]) -> pa.Schema:
    """Every field of `schema` retyped by `rewrite`."""
    return pa.schema([f.with_type(retyped(f.type, rewrite)) for f in schema])


def repeated_child(kind: pa.DataType) -> str | None:
    """Names that a struct in `kind`, at any depth, gives two of its children alike, case aside
    as DuckDB reads them (`'a'`, or `'x' and 'X'`), or None: DuckDB cannot read such a struct,
    and which child is meant is unclear."""
    if pa.types.is_struct(kind):
        seen: dict[str, str] = {}
        for name in (child.name for child in kind.fields):
            if (twin := seen.get(name.lower())) is not None:
                return repr(twin) if twin == name else f"{twin!r} and {name!r}"
            seen[name.lower()] = name
        children = [child.type for child in kind.fields]
    elif pa.types.is_map(kind):
        children = [kind.key_type, kind.item_type]
    elif hasattr(kind, "value_type") and not pa.types.is_dictionary(kind):  # lists of any kind
        children = [kind.value_type]
    else:
        return None
    return next((names for child in children if (names := repeated_child(child))), None)
