"""`hadir tpp simulate`'s file: a YAML scenario and the policy it names, read for the pure simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub.payroll.policy_file import load_policy
from hub.tpp.policy import Policy
from hub.tpp.simulate import Scenario, ScenarioError, Simulation, parse_scenario, run


class _StringDates(yaml.SafeLoader):
    """YAML without implicit timestamps: `2026-02-30` stays text, so the check names the field instead of the
    YAML parser failing, and `at: 2026-11-09` is refused for lacking a time instead of becoming a date."""


_StringDates.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def read_yaml(path: Path) -> Any:
    """Raises ScenarioError when the file is not valid YAML, OSError when it cannot be read."""
    try:
        return yaml.load(Path(path).read_text(), Loader=_StringDates)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{path}: not valid YAML: {exc}"]) from None


def load_scenario(path: Path) -> tuple[Scenario, Policy]:
    """The scenario in `path` and its policy (a relative policy path is relative to the file).
    Raises ScenarioError naming the field, FileNotFoundError for a missing policy file."""
    scenario = parse_scenario(read_yaml(path))
    policy_path = scenario.policy
    if policy_path != "default" and not Path(policy_path).is_absolute():
        policy_path = str((Path(path).parent / policy_path).resolve())
    try:
        policy = load_policy(policy_path)
    except (ValueError, FileNotFoundError) as exc:
        raise ScenarioError([f"policy: {exc}"]) from None
    return scenario, policy


def simulate_file(path: Path) -> Simulation:
    """Load and run the scenario in `path`. Raises ScenarioError naming what is wrong."""
    scenario, policy = load_scenario(path)
    return run(scenario, policy)
