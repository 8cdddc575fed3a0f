"""The JSON report's encoder gives ``json.dumps(data, indent=2)`` byte for byte."""

from __future__ import annotations

import enum
import json
import random

import pytest

from hullscan.report.json import dumps_indented


class _Str(str, enum.Enum):
    A = "a\u00e9"


class _Int(enum.IntEnum):
    X = 3


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _List(list):  # type: ignore[type-arg]
    pass


_SCALARS = [None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e300, 1e-7, float("nan"), float("inf"), -float("inf"), "",
            'x"\\\n\t\u2028\ud800\U0001f600é', "plain", _Str.A, _Int.X]


def _value(rng: random.Random, depth: int = 0) -> object:
    r = rng.random()
    if depth > 5 or r < 0.5:
        return rng.choice(_SCALARS)
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.8:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    if r < 0.85:
        return _List(_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    if r < 0.9:
        return _Dict({rng.choice(["a", "b", "é"]): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))})
    data: dict[object, object] = {rng.choice(["k", 'key"q', "ü", "", "xxx"]): _value(rng, depth + 1)
                                  for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.1:
        data[rng.choice([1, 2.5, True, None])] = _value(rng, depth + 1)  # keys json converts
    return data


def test_random_data_matches_json_dumps() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = _value(rng)
        assert dumps_indented(data) == json.dumps(data, indent=2)


def test_deep_data_matches_json_dumps() -> None:
    data: object = []
    for _ in range(300):
        data = [1, {"a": data}]
    assert dumps_indented(data) == json.dumps(data, indent=2)


@pytest.mark.parametrize("data", [{"a": object()}, [set()], {"k": b"bytes"}])
def test_what_json_rejects_it_rejects(data: object) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(data, indent=2)
    with pytest.raises(TypeError) as got:
        dumps_indented(data)
    assert str(got.value) == str(expected.value)


def test_cycle_is_reported_as_json_reports_it() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented(cycle)
