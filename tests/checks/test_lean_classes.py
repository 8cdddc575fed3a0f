"""The frozen classes of the secret and sensitive-file analyzers are made with ``lean_dataclass`` (no code compiled
at import): they must behave as ``dataclasses`` would make them (signature, defaults, repr, equality, hash,
frozenness, replace, pickling), compared here with a reference class made from the same fields."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from hullscan.analyzers.files import secrets, sensitive

CLASSES = [secrets.SecretRule, secrets.SecretMatch, secrets._Candidates, sensitive.SensitiveItem, secrets.SecretRules]


def _reference(cls: type) -> type:
    specs: list[tuple[str, object] | tuple[str, object, object]] = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            specs.append((f.name, f.type, dataclasses.field(default=f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            specs.append((f.name, f.type, dataclasses.field(default_factory=f.default_factory)))
        else:
            specs.append((f.name, f.type))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=cls.__dataclass_params__.frozen)  # type: ignore[attr-defined]


def _required(cls: type, tag: str = "") -> dict[str, object]:
    return {n: f"<{n}{tag}>" for n, p in inspect.signature(cls).parameters.items() if p.default is inspect.Parameter.empty}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_behaves_as_the_dataclass(cls: type) -> None:
    assert "__init__" in cls.__dict__
    frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    ref = _reference(cls)
    ours, theirs = inspect.signature(cls).parameters, inspect.signature(ref).parameters
    assert [(n, p.kind, repr(p.default)) for n, p in ours.items()] == [(n, p.kind, repr(p.default)) for n, p in theirs.items()]
    a, b = cls(**_required(cls)), ref(**_required(cls))
    assert dataclasses.asdict(a) == dataclasses.asdict(b) and repr(a) == repr(b)
    assert a == cls(**_required(cls)) and a != cls(**_required(cls, "x")) and a != b
    if frozen:
        assert hash(a) == hash(b) == hash(cls(**_required(cls)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.id = "x"  # type: ignore[attr-defined]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del a.__dict__  # type: ignore[attr-defined]
    else:
        assert cls.__hash__ is None is ref.__hash__  # type: ignore[comparison-overlap]
    for f in dataclasses.fields(cls):  # a fresh object per instance from a default factory
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(a, f.name) == f.default_factory() and getattr(a, f.name) is not getattr(cls(**_required(cls)), f.name)
    first = dataclasses.fields(cls)[0].name
    changed = dataclasses.replace(a, **{first: "other"})
    assert getattr(changed, first) == "other" and changed != a
    assert pickle.loads(pickle.dumps(a)) == a


def test_the_kept_path_answer_is_no_part_of_the_rule_set() -> None:
    a, b = secrets.SecretRules([], ["^/x/"]), secrets.SecretRules([], ["^/x/"])
    assert a.path_allowed("/x/y") and a == b and repr(a) == repr(b) and "_last_path" not in repr(a)


def test_cached_properties_of_frozen_classes_still_work() -> None:
    rule = secrets.builtin_rules().rules[0]
    assert rule.regex is rule.regex and isinstance(rule.anchors, tuple)
    item = sensitive.builtin_items()[0]
    assert item.paths is item.paths and item.content is item.content
    assert pickle.loads(pickle.dumps(rule)) == rule and pickle.loads(pickle.dumps(item)) == item
