"""The rule-set classes of the file analyzers: what they keep beside their fields stays out of equality and
repr, and their compiled forms (cached properties) work on frozen instances and survive pickling."""

from __future__ import annotations

import pickle

from hullscan.analyzers.files import secrets, sensitive


def test_the_kept_path_answer_is_no_part_of_the_rule_set() -> None:
    a, b = secrets.SecretRules([], ["^/x/"]), secrets.SecretRules([], ["^/x/"])
    assert a.path_allowed("/x/y") and a == b and repr(a) == repr(b) and "_last_path" not in repr(a)


def test_cached_properties_of_frozen_classes_still_work() -> None:
    rule = secrets.builtin_rules().rules[0]
    assert rule.regex is rule.regex and isinstance(rule.anchors, tuple)
    item = sensitive.builtin_items()[0]
    assert item.paths is item.paths and item.content is item.content
    assert pickle.loads(pickle.dumps(rule)) == rule and pickle.loads(pickle.dumps(item)) == item
