"""Hypothesis strategies that generate valid, tricky version strings for every scheme."""

from __future__ import annotations

from hypothesis import HealthCheck
from hypothesis import strategies as st

#: Health checks that only flag slow or large generated data (the machine may be busy).
RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

_small = st.integers(min_value=0, max_value=12)
_num = st.one_of(_small, st.integers(min_value=0, max_value=10**12)).map(str)
_lead_zero_num = st.one_of(_num, st.sampled_from(["0", "00", "01", "010", "007"]))


def _join(parts: list[str]) -> str:
    return "".join(parts)


# --- dpkg: [epoch:]upstream[-revision] -----------------------------------------------------------
_deb_chars = st.sampled_from(list("0123456789") + list("abcxyzAZ") + [".", "+", "~", "~~"])
_deb_upstream = st.tuples(st.sampled_from(list("0123456789")), st.lists(_deb_chars, max_size=8)).map(
    lambda t: t[0] + _join(t[1])
)
_deb_revision = st.lists(
    st.sampled_from(list("0123456789") + list("abuZ") + [".", "+", "~"]), min_size=1, max_size=6
).map(_join)
deb = st.builds(
    lambda e, u, r: (f"{e}:" if e is not None else "") + u + (f"-{r}" if r is not None else ""),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    _deb_upstream,
    st.one_of(st.none(), _deb_revision),
)

# --- rpm: [epoch:]version[-release] -------------------------------------------------------------
_rpm_seg = st.one_of(_lead_zero_num, st.sampled_from(["a", "b", "rc", "git", "el", "Z", "fc"]))
_rpm_sep = st.sampled_from([".", ".", "_", "+", "~", "^", ""])


def _rpm_part(draw_list: list[tuple[str, str]]) -> str:
    return _join([seg + sep for seg, sep in draw_list]).rstrip()


rpm_piece = st.lists(st.tuples(_rpm_seg, _rpm_sep), min_size=1, max_size=5).map(_rpm_part)
rpm = st.builds(
    lambda e, v, r: (f"{e}:" if e is not None else "") + v + "-" + r,
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    rpm_piece,
    rpm_piece,
)

# --- apk: digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#} ---------------------------------------
_apk_suffix = st.tuples(
    st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]),
    st.one_of(st.just(""), _lead_zero_num),
).map(lambda t: "_" + t[0] + t[1])
apk = st.builds(
    lambda first, rest, letter, sufs, hsh, rev: (
        first
        + _join("." + d for d in rest)
        + letter
        + _join(sufs)
        + (f"~{hsh}" if hsh else "")
        + (f"-r{rev}" if rev is not None else "")
    ),
    _num,
    st.lists(_lead_zero_num, max_size=4),
    st.sampled_from(["", "", "a", "b", "z"]),
    st.lists(_apk_suffix, max_size=2),
    st.sampled_from(["", "", "abc1", "0f", "ABC"]),
    st.one_of(st.none(), _small),
)

# --- PEP 440 --------------------------------------------------------------------------------------
pep440 = st.builds(
    lambda epoch, rel, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "") + ".".join(rel) + pre + post + dev + (f"+{local}" if local else "")
    ),
    st.sampled_from([0, 0, 0, 1]),
    st.lists(_num, min_size=1, max_size=4),
    st.one_of(st.just(""), st.builds(lambda k, n: f"{k}{n}", st.sampled_from(["a", "b", "rc", "alpha", "c"]), _small)),
    st.one_of(st.just(""), _small.map(lambda n: f".post{n}")),
    st.one_of(st.just(""), _small.map(lambda n: f".dev{n}")),
    st.sampled_from(["", "", "ubuntu1", "1.2", "abc.5"]),
)

# --- SemVer 2.0.0 ----------------------------------------------------------------------------------
_semver_id = st.one_of(_small.map(str), st.sampled_from(["alpha", "beta", "rc", "x-y", "A", "a1", "1a", "-", "0a"]))
_semver_core = st.builds(lambda a, b, c: f"{a}.{b}.{c}", _num, _small, _small)
semver = st.builds(
    lambda core, pre, build: core + (f"-{'.'.join(pre)}" if pre else "") + (f"+{'.'.join(build)}" if build else ""),
    _semver_core,
    st.lists(_semver_id, max_size=3),
    st.lists(st.sampled_from(["build", "1", "sha.abc", "001"]), max_size=2),
)
cargo = semver

# --- Go modules (with the v the reference needs) --------------------------------------------------
_go_pseudo = st.builds(
    lambda core, kind, ts, h: f"v{core}-{kind}{ts}-{h}",
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _small, _small, _small),
    st.sampled_from(["", "0.", "pre.0.", "rc.1.0."]),
    st.sampled_from(["20191109021931", "20200101000000", "20231231235959"]),
    st.sampled_from(["daa7c04131f5", "000000000000", "abcdefabcdef"]),
)
go = st.one_of(
    semver.map(lambda v: "v" + v),
    _go_pseudo,
    st.builds(lambda a, b: f"v{a}.{b}.0+incompatible", _small, _small),
    _small.map(lambda a: f"v{a}"),
    st.builds(lambda a, b: f"v{a}.{b}", _small, _small),
)

# --- Maven -----------------------------------------------------------------------------------------
_maven_tok = st.one_of(
    _lead_zero_num,
    st.sampled_from(
        [
            "alpha",
            "a",
            "beta",
            "b",
            "m",
            "milestone",
            "rc",
            "cr",
            "snapshot",
            "SNAPSHOT",
            "ga",
            "final",
            "Final",
            "release",
            "RELEASE",
            "sp",
            "abc",
            "xyz",
            "jre",
            "android",
            "v20210629",
        ]
    ),
)
# Real Maven versions start with a number. (ComparableVersion is not transitive on every input --
# ``0`` < ``a`` < ``0.alpha`` but ``0`` > ``0.alpha``, and ``1`` > ``1.alpha`` > ``1.a.0`` < ``1`` --
# in Maven itself too; the axiom test then checks that we agree with Maven.)
maven = st.builds(
    lambda first, parts: (first + "." + _join(tok + sep for tok, sep in parts)).rstrip(".-"),
    _num,
    st.lists(st.tuples(_maven_tok, st.sampled_from([".", "-", "", "."])), max_size=6),
)

# --- RubyGems ------------------------------------------------------------------------------------------
_gem_seg = st.one_of(_lead_zero_num, st.sampled_from(["a", "b", "pre", "rc", "beta", "A", "z"]))
gem = st.builds(
    lambda first, rest, pre: first + _join("." + s for s in rest) + (f"-{pre}" if pre else ""),
    _num,
    st.lists(_gem_seg, max_size=5),
    st.sampled_from(["", "", "rc1", "pre.1", "beta-2"]),
)

# --- Composer ----------------------------------------------------------------------------------------
composer = st.builds(
    lambda v, nums, mod, dev: v + ".".join(nums) + mod + dev,
    st.sampled_from(["", "", "v"]),
    st.lists(st.integers(min_value=0, max_value=20).map(str), min_size=1, max_size=4),
    st.one_of(
        st.just(""),
        st.builds(
            lambda sep, kind, n: f"{sep}{kind}{n}",
            st.sampled_from(["-", ".", "_", ""]),
            st.sampled_from(["stable", "beta", "b", "RC", "rc", "alpha", "a", "patch", "pl", "p"]),
            st.sampled_from(["", "1", "2", "10", ".1"]),
        ),
    ),
    st.sampled_from(["", "", "", "-dev"]),
)

# --- NuGet ------------------------------------------------------------------------------------------
_nuget_label = st.one_of(
    _small.map(str), st.sampled_from(["alpha", "Alpha", "beta", "BETA", "rc", "preview", "a-b", "99999999999", "0a"])
)
nuget = st.builds(
    lambda nums, pre, meta: ".".join(nums) + (f"-{'.'.join(pre)}" if pre else "") + (f"+{meta}" if meta else ""),
    st.lists(
        st.one_of(st.integers(min_value=0, max_value=2**31 - 1).map(str), st.sampled_from(["0", "01", "007"])),
        min_size=1,
        max_size=4,
    ),
    st.lists(_nuget_label, max_size=3),
    st.sampled_from(["", "", "sha.1"]),
)

BY_SCHEME = {
    "deb": deb,
    "rpm": rpm,
    "apk": apk,
    "pep440": pep440,
    "semver": semver,
    "cargo": cargo,
    "go": go,
    "maven": maven,
    "gem": gem,
    "composer": composer,
    "nuget": nuget,
}
