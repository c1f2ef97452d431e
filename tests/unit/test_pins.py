"""pyproject.toml is the one place versions are pinned; envs/*.yaml must agree with it."""

import tomllib

import yaml

from conftest import REPO


def pins(requirements):
    return dict(r.split("==") for r in requirements if "==" in r)


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"]
    requirements += project["tool"]["llmbench"]["no-deps"]
    assert all("==" in r for r in requirements), [r for r in requirements if "==" not in r]


def test_conda_envs_repeat_the_pyproject_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pinned = pins(project["project"]["dependencies"] + project["tool"]["llmbench"]["no-deps"])
    overrides = project["tool"]["llmbench"]["env-pins"]
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert {e.stem for e in envs} >= {"hf", "fastllm", "report"}
    for env in envs:
        pip_section = next(
            d["pip"] for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, dict)
        )
        env_pins = pins(pip_section)
        assert env_pins, env
        expected = pinned | pins(overrides.get(env.stem, []))
        for name, version in env_pins.items():
            assert expected.get(name) == version, (
                f"{env.name}: {name}=={version}, pyproject: {expected.get(name)}"
            )


def test_every_backend_has_its_conda_env():
    from llmbench.backends import available

    for backend in available():
        assert (REPO / "envs" / f"{backend}.yaml").is_file(), backend
