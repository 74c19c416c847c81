import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_KEY = "k3y-for-tests-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"


def clean_env(**overrides: str) -> dict[str, str]:
    """The parent's environment without any DispatchDesk configuration, plus `overrides`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_URL", "JWT_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run Python code with Django set up in a fresh process configured only by `env`."""
    script = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=clean_env(DJANGO_SETTINGS_MODULE="dispatchdesk.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_in_process(*names: str, **env: str) -> dict:
    code = (
        "import json; from django.conf import settings\n"
        f"values = {{name: getattr(settings, name, None) for name in {list(names)!r}}}\n"
        "print(json.dumps(values, default=str))"
    )
    result = run_python(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def production_env() -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "dispatch.example.com",
    }
