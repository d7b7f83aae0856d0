"""The per-rule conda envs, checked without conda (its channels are unreachable here).

Each env must be a valid conda env file on conda-forge, pin exactly the versions of
requirements.txt, and provide every third-party module its rules import: the rule's script and,
transitively, every youngvae module it reaches (lazy imports inside functions included). The
rules, their envs and scripts come from Snakemake itself (its API loads the workflow).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from youngvae.testing import REPO

ENVS = sorted((REPO / "workflow" / "envs").glob("*.yaml"))
SRC = REPO / "src"
PACKAGE = "youngvae"  # reaches every job through PYTHONPATH (the Snakefile), not through an env
# conda-forge names that differ from the PyPI distribution they stand for.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "pytables": "tables", "pytorch": "torch"}
# Conda-only entries: the interpreter and the installer.
NOT_PYPI = {"python", "pip"}
# Imported only when present (youngvae.bench skips a Keras backend it cannot find): not required.
OPTIONAL_MODULES = {"torch", "jax", "jaxlib"}

# Snakemake's API loads the workflow in a child process (the Snakefile changes sys.path and
# PYTHONPATH, and the API changes directory): each rule's conda env and script, as paths.
RULES_PY = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

repo, out = Path(sys.argv[1]), Path(sys.argv[2])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(cores=2), snakefile=repo / "Snakefile", workdir=repo
    )
    rules = {}
    for rule in wf._workflow.rules:  # the API has no public rule listing with attributes
        def path(p):
            if p is None:
                return None
            return str(Path(rule.basedir.join(p).get_path_or_uri(secret_free=True)).resolve())
        rules[rule.name] = {"conda": path(rule.conda_env), "script": path(rule.script),
                            "target_only": not rule.output and rule.script is None and not rule.shellcmd}
out.write_text(json.dumps(rules))
"""


def normalize(name: str) -> str:
    """PEP 503 name, with conda-forge aliases mapped to their PyPI distribution."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PYPI.get(name, name)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'numpy=2.4.6', 'numpy==2.4.6', 'snakemake[reports]==9.27.1', 'pip' -> (name, version)."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==?\s*(\S+))?\s*", spec)
    assert m, f"cannot parse {spec!r} (only exact pins or bare names are allowed)"
    return normalize(m.group(1)), m.group(2)


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = parse_spec(line)
            assert version, f"requirements.txt: {line!r} is not pinned"
            pins[name] = version
    return pins


def load_env(path: Path) -> dict:
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict), f"{path.name}: not a mapping"
    return env


def env_packages(path: Path) -> dict[str, tuple[str | None, str]]:
    """Every dependency of an env: normalized name -> (version, 'conda' or 'pip')."""
    packages = {}
    for dep in load_env(path)["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep["pip"]:
                name, version = parse_spec(spec)
                packages[name] = (version, "pip")
        else:
            name, version = parse_spec(dep)
            packages[name] = (version, "conda")
    return packages


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("rules") / "rules.json"
    run = subprocess.run(
        [sys.executable, "-c", RULES_PY, str(REPO), str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------
# Imports: the script's, then the youngvae modules it reaches, transitively.


def module_file(module: str) -> Path | None:
    """The source file of a youngvae module (or package), None if it is not one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = SRC.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imports_of(path: Path, module: str | None = None) -> frozenset[str]:
    """Dotted names a file imports anywhere (top level, functions, try blocks).

    `module` is the file's own dotted name, to resolve relative imports. `from pkg import name`
    counts `pkg.name` too when that is a module of ours.
    """
    package = None
    if module is not None:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert package, f"{path}: relative import outside the package"
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            for alias in node.names:
                if module_file(f"{base}.{alias.name}"):
                    names.add(f"{base}.{alias.name}")
    return frozenset(names)


def import_closure(script: Path) -> set[str]:
    """Everything the script imports, following youngvae modules (and their parent packages)."""
    seen_modules: set[str] = set()
    names = set(imports_of(script))
    todo = [n for n in names if n.split(".")[0] == PACKAGE]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            mod = ".".join(parts[:i])
            if mod in seen_modules or (path := module_file(mod)) is None:
                continue
            seen_modules.add(mod)
            found = imports_of(path, mod)
            names |= found
            todo.extend(n for n in found if n.split(".")[0] == PACKAGE)
    return names


def third_party(names: set[str]) -> set[str]:
    tops = {n.split(".")[0] for n in names}
    return {
        t
        for t in tops
        if t not in sys.stdlib_module_names and t != PACKAGE and t not in OPTIONAL_MODULES
    }


# ---------------------------------------------------------------------------------------------


def test_there_is_one_env_per_rule_group():
    assert [p.name for p in ENVS] == ["plotting.yaml", "simulation.yaml", "training.yaml"]


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_is_a_valid_conda_forge_env(path):
    env = load_env(path)
    assert set(env) <= {"name", "channels", "dependencies"}, set(env)
    channels = env["channels"]
    assert isinstance(channels, list) and "conda-forge" in channels
    assert "defaults" not in channels, "the defaults channel needs an Anaconda licence"
    assert "nodefaults" in channels, "without nodefaults, a user's .condarc may add defaults"
    deps = env["dependencies"]
    strings = [d for d in deps if isinstance(d, str)]
    subs = [d for d in deps if not isinstance(d, str)]
    assert all(isinstance(d, dict) and set(d) == {"pip"} for d in subs), subs
    assert len(subs) <= 1, "one pip sub-list"
    if subs:
        assert "pip" in strings, "a pip sub-list needs pip itself in the env"
        assert all(isinstance(s, str) for s in subs[0]["pip"])
    packages = env_packages(path)
    assert packages["python"] == ("3.11", "conda")
    assert len(packages) == len(strings) + sum(len(s["pip"]) for s in subs), "duplicates"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_equal_requirements(path):
    pins = requirements()
    for name, (version, source) in env_packages(path).items():
        if name in NOT_PYPI:
            continue
        assert name in pins, f"{path.name}: {name} is not in requirements.txt"
        assert version == pins[name], (
            f"{path.name}: {name} {source} pin {version}, requirements.txt {pins[name]}"
        )


def test_every_rule_names_an_env_and_a_script(rules):
    assert {"plan_wavelengths", "simulate_chunk", "train", "decode_grid"} <= set(rules)
    env_paths = {str(p) for p in ENVS}
    # target-only rules (all, studies, study_<name>: inputs, no output, nothing to run) need none
    assert {"all", "studies"} <= {name for name, rule in rules.items() if rule["target_only"]}
    for name, rule in rules.items():
        if rule["target_only"]:
            continue
        assert rule["conda"] in env_paths, f"rule {name}: conda env {rule['conda']}"
        assert rule["script"] and Path(rule["script"]).is_file(), f"rule {name}: script"


def test_import_closure_follows_lazy_imports():
    script = REPO / "workflow" / "scripts" / "encode.py"
    closure = import_closure(script)
    # stages.model imports tensorflow (through youngvae.threads) and youngvae.vae.model inside
    # functions; analysis.plots imports analysis.images.
    assert {
        "youngvae.stages.model",
        "youngvae.vae.model",
        "youngvae.analysis.plots",
        "youngvae.analysis.images",
    } <= closure
    assert {"tensorflow", "keras", "seaborn", "scipy"} <= third_party(closure)


def test_every_rule_env_provides_what_its_code_imports(rules):
    dists = {top: {normalize(d) for d in ds} for top, ds in packages_distributions().items()}
    gaps = []
    for name, rule in sorted(rules.items()):
        if rule["script"] is None:
            continue
        provided = set(env_packages(Path(rule["conda"])))
        for module in sorted(third_party(import_closure(Path(rule["script"])))):
            candidates = dists.get(module)
            if not candidates:
                gaps.append(f"{name}: {module} is not installed here (no distribution)")
            elif not candidates & provided:
                gaps.append(
                    f"{name}: {module} (from {'/'.join(sorted(candidates))}) "
                    f"missing in {Path(rule['conda']).name}"
                )
    assert not gaps, "\n".join(gaps)
