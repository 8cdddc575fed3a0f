"""Risky build commands: every rule's examples, and the stage over an image config."""

from __future__ import annotations

import pytest

from hullscan.checks.history import check_history, command_text, rules
from hullscan.model import Category, ImageConfigSummary, Inventory, Layer
from hullscan.options import ScanOptions
from hullscan.stages import ScanContext


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r.id)
def test_rule_examples(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.examples_match and rule.examples_no_match and rule.remediation
    for text in rule.examples_match:
        assert rule.regex.search(command_text(text)), f"{rule.id} missed {text!r}"
    for text in rule.examples_no_match:
        assert not rule.regex.search(command_text(text)), f"{rule.id} matched {text!r}"


def _ctx(config: ImageConfigSummary, layers: int = 0) -> ScanContext:
    return ScanContext(options=ScanOptions(), inventory=Inventory(), config=config,
                       layers=[Layer(i, f"sha256:b{i}", f"sha256:d{i}", 1) for i in range(layers)], raw_config={"config": {}})


def test_stage_over_history_env_labels_ports() -> None:
    token = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    config = ImageConfigSummary(
        env=("PATH=/usr/bin", f"GITHUB_TOKEN={token}", "PASSWORD_FILE=/run/secrets/pw"),
        labels=(("org.opencontainers.image.base.name", "docker.io/library/debian:latest"),),
        exposed_ports=("22/tcp", "8080/tcp"),
        history=(
            ("/bin/sh -c #(nop) ADD file:abc in / ", False),
            ("/bin/sh -c #(nop)  CMD [\"bash\"]", True),
            ("|1 NPM_TOKEN=npm_Zq8vX2mK9pLrZq8vX2mK9pLr /bin/sh -c curl -fsSL https://get.tool.sh | bash && chmod 777 /opt", False),
            ("/bin/sh -c apt-get update && apt-get -y upgrade && wget --no-check-certificate https://x/y", False),
            ("ADD https://example.org/app.tgz /opt/ # buildkit", False),
            ("RUN /bin/sh -c sudo make install # buildkit", False),
        ),
    )
    found = check_history(_ctx(config, layers=5))
    got = sorted((f.id, f.location.path) for f in found)
    assert got == sorted([
        ("history-secret-in-env", "config.Env"),
        ("history-latest-base-label", "config.Labels"),
        ("history-exposed-remote-shell-port", "config.ExposedPorts"),
        ("history-secret-in-arg", "history[2]"),
        ("history-curl-pipe-shell", "history[2]"),
        ("history-chmod-777", "history[2]"),
        ("history-unpinned-upgrade", "history[3]"),
        ("history-insecure-download", "history[3]"),
        ("history-add-from-url", "history[4]"),
        ("history-sudo", "history[5]"),
    ])
    assert all(f.category is Category.HISTORY and f.remediation for f in found)
    by_id = {f.id: f for f in found}
    assert token not in by_id["history-secret-in-env"].evidence and "ghp_" in by_id["history-secret-in-env"].evidence
    assert "npm_Zq8vX2mK9pLrZq8vX2mK9pLr" not in by_id["history-secret-in-arg"].evidence
    # history[2] is the second non-empty entry: the layer it produced is layers[1]
    assert by_id["history-curl-pipe-shell"].location.layer == "sha256:d1"


def test_clean_history() -> None:
    config = ImageConfigSummary(
        user="app", exposed_ports=("8080/tcp",),
        history=(("/bin/sh -c #(nop) ADD file:abc in / ", False),
                 ("/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5", False)),
    )
    assert check_history(_ctx(config, 2)) == []
