"""The model's classes (and the other ``lean_dataclass`` ones) behave as ``dataclasses`` would make them.

:func:`hullscan.model.lean_dataclass` classes write their ``__init__`` out and get the other methods without
compiling code; here every class is compared with a reference class that ``dataclasses.make_dataclass``
builds from the same fields: signature, defaults, repr, equality, hash, frozenness, replace, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from hullscan import checks as checks_pkg
from hullscan import model, options, stages, suppress
from hullscan import report as report_pkg
from hullscan.analyzers.files import secrets, sensitive
from hullscan.checks import selection
from hullscan.image import source

#: the modules whose dataclasses are made with hullscan.model.lean_dataclass
MODULES = [model, options, stages, suppress, selection, checks_pkg, report_pkg, source, secrets, sensitive]
CLASSES = [obj for mod in MODULES for obj in vars(mod).values()
           if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == mod.__name__]


def _reference(cls: type) -> type:
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            specs.append((f.name, f.type, dataclasses.field(default=f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            specs.append((f.name, f.type, dataclasses.field(default_factory=f.default_factory)))
        else:
            specs.append((f.name, f.type))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=cls.__dataclass_params__.frozen)


def _values(cls: type, tag: str = "") -> dict[str, object]:
    return {f.name: f"<{f.name}{tag}>" for f in dataclasses.fields(cls)}


def test_every_class_is_covered() -> None:
    assert {c.__name__ for c in CLASSES} >= {"Package", "Finding", "ScanReport", "LayerResult", "Platform", "VulnInfo",
                                             "ScanOptions", "Limits", "Filters", "Descriptor",
                                             "SecretRule", "SecretMatch", "SecretRules", "SensitiveItem"}
    for cls in CLASSES:
        assert "__init__" in cls.__dict__, f"{cls.__qualname__}: not a lean_dataclass"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_signature_and_defaults(cls: type) -> None:
    ref = _reference(cls)
    ours, theirs = inspect.signature(cls).parameters, inspect.signature(ref).parameters
    assert list(ours) == list(theirs)
    for name in ours:
        a, b = ours[name], theirs[name]
        assert a.kind == b.kind
        assert repr(a.default) == repr(b.default)  # "<factory>" for a default_factory
        assert a.annotation == b.annotation
    required = {n: f"<{n}>" for n, p in ours.items() if p.default is inspect.Parameter.empty}
    mine, reference = cls(**required), ref(**required)
    assert dataclasses.asdict(mine) == dataclasses.asdict(reference)
    again = cls(**required)
    for f in dataclasses.fields(cls):
        factory = f.default_factory
        if factory is not dataclasses.MISSING and factory() is not factory():  # a fresh object per instance
            assert getattr(mine, f.name) is not getattr(again, f.name)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_repr_eq_hash(cls: type) -> None:
    ref = _reference(cls)
    values = _values(cls)
    mine, reference = cls(**values), ref(**values)
    assert repr(mine) == repr(reference)
    assert mine == cls(**values)
    assert not mine != cls(**values)
    assert mine != reference and reference != mine  # another class: never equal
    for name in values:
        assert mine != cls(**{**values, name: "other"})
    assert cls.__match_args__ == ref.__match_args__
    assert repr(cls.__dataclass_params__) == repr(ref.__dataclass_params__)
    if cls.__dataclass_params__.frozen:
        assert hash(mine) == hash(reference) == hash(cls(**values))
    else:
        assert cls.__hash__ is None and ref.__hash__ is None
        with pytest.raises(TypeError):
            hash(mine)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_frozen_or_not(cls: type) -> None:
    ref = _reference(cls)
    values = _values(cls)
    mine, reference = cls(**values), ref(**values)
    name = next(iter(values))
    if not cls.__dataclass_params__.frozen:
        setattr(mine, name, "changed")
        assert getattr(mine, name) == "changed"
        return
    for target in (mine, reference):
        with pytest.raises(dataclasses.FrozenInstanceError) as first:
            setattr(target, name, "changed")
        with pytest.raises(dataclasses.FrozenInstanceError) as second:
            setattr(target, "not_a_field", 1)
        with pytest.raises(dataclasses.FrozenInstanceError) as third:
            delattr(target, name)
        assert (str(first.value), str(second.value), str(third.value)) == (
            f"cannot assign to field {name!r}", "cannot assign to field 'not_a_field'", f"cannot delete field {name!r}")

    @dataclasses.dataclass(frozen=True)
    class Sub(cls):  # type: ignore[valid-type, misc]
        pass

    sub = Sub(**values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(sub, name, "changed")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_replace_copy_pickle(cls: type) -> None:
    values = _values(cls)
    mine = cls(**values)
    name = next(iter(values))
    changed = dataclasses.replace(mine, **{name: "new"})
    assert getattr(changed, name) == "new" and changed == cls(**{**values, name: "new"})
    assert copy.copy(mine) == mine and copy.deepcopy(mine) == mine
    assert pickle.loads(pickle.dumps(mine)) == mine


def test_recursive_repr() -> None:
    inv = model.Inventory()
    inv.facts["self"] = inv  # type: ignore[assignment]
    assert repr(inv) == "Inventory(distro=None, packages=[], findings=[], warnings=[], facts={'self': ...})"


def test_nan_fields_compare_like_dataclasses() -> None:
    nan = float("nan")
    loc = model.Location(path="p", line=nan)  # type: ignore[arg-type]
    assert loc == loc  # tuple comparison: the same object is equal to itself
    assert model.Location(path="p", line=nan) == model.Location(path="p", line=nan)  # type: ignore[arg-type]


def test_the_kept_path_answer_is_no_part_of_the_rule_set() -> None:
    a, b = secrets.SecretRules([], ["^/x/"]), secrets.SecretRules([], ["^/x/"])
    assert a.path_allowed("/x/y") and a == b and repr(a) == repr(b) and "_last_path" not in repr(a)


def test_cached_properties_of_frozen_classes_still_work() -> None:
    rule = secrets.builtin_rules().rules[0]
    assert rule.regex is rule.regex and isinstance(rule.anchors, tuple)
    item = sensitive.builtin_items()[0]
    assert item.paths is item.paths and item.content is item.content
    assert pickle.loads(pickle.dumps(rule)) == rule and pickle.loads(pickle.dumps(item)) == item
