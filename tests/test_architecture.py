"""The dependency arrows of ARCHITECTURE.md §2 and the driver rules of §3, checked with ast.

station ──► sensors, ui_lcd, mqtt_bridge, drivers
sensors ──► drivers, numpy (and gpiozero for the PWM motor fallback)
ui_lcd ──► drivers, gpiozero
mqtt_bridge ──► paho-mqtt, stdlib (matplotlib only lazily, inside the clinic plot function)
drivers ──► the stdlib subset MicroPython also has
hw_tests ──► station.config, station.hardware, sensors, drivers, ui_lcd, mqtt_bridge

Only station/hardware.py (the composition root) imports smbus2, a ``sim`` module or
gpiozero's mock or real pin factories; simulated-world modules (``*/sim/*``) may import
each other. No product code looks for pytest.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("station", "drivers", "sensors", "ui_lcd", "mqtt_bridge", "hw_tests")
STDLIB = set(sys.stdlib_module_names)

ALLOWED_THIRD_PARTY = {
    "station": {"numpy", "gpiozero"},
    "sensors": {"numpy", "gpiozero"},
    "ui_lcd": {"gpiozero"},
    "mqtt_bridge": {"paho"},
    "drivers": {"micropython"},  # guarded: the const() hint on MicroPython
    "hw_tests": {"numpy"},
}
ALLOWED_OWN = {
    "station": {"station", "sensors", "ui_lcd", "mqtt_bridge", "drivers"},
    "sensors": {"sensors", "drivers"},
    "ui_lcd": {"ui_lcd", "drivers"},
    "mqtt_bridge": {"mqtt_bridge"},
    "drivers": {"drivers"},
    "hw_tests": {
        "hw_tests",
        "station.config",
        "station.hardware",
        "station.paths",
        "sensors",
        "drivers",
        "ui_lcd",
        "mqtt_bridge",
    },
}
#: Lazy (function-level) imports allowed for optional extras.
LAZY_OK = {"mqtt_bridge": {"matplotlib"}}
#: What a MicroPython-clean driver file may import.
MICROPYTHON_OK = {"struct", "time", "micropython", "typing", "errno", "drivers"}
#: CPython-only files in drivers/ (the smbus2 adapter and the clock's thread helper).
CPYTHON_DRIVER_FILES = {"smbus2_bus.py", "_periodic.py", "__init__.py"}
ROOT_ONLY = ("smbus2", "gpiozero.pins.mock", "gpiozero.pins.lgpio", "gpiozero.pins.native")


def product_files() -> list[Path]:
    files: list[Path] = []
    for pkg in PACKAGES:
        files.extend(sorted((ROOT / pkg).rglob("*.py")))
    return files


def imports_of(path: Path) -> list[tuple[str, bool, int]]:
    """(module, at_module_level, line) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                out.extend((a.name, top, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    out.append((_relative(path, child), top, child.lineno))
                elif child.module:
                    out.append((child.module, top, child.lineno))
                    out.extend((f"{child.module}.{a.name}", top, child.lineno) for a in child.names)
            visit(child, nested)

    visit(tree, True)
    return out


def _relative(path: Path, node: ast.ImportFrom) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)[: -node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def is_sim(path: Path) -> bool:
    return "sim" in path.relative_to(ROOT).parts[:-1]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", product_files(), ids=rel)
def test_architecture_arrows(path: Path) -> None:
    pkg = path.relative_to(ROOT).parts[0]
    for module, top, line in imports_of(path):
        root = module.split(".")[0]
        where = f"{rel(path)}:{line} imports {module}"
        if root in STDLIB or root == "__future__":
            continue
        if root in PACKAGES:
            allowed = ALLOWED_OWN[pkg]
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                # "from station import config" names station.config: check the full name.
                pytest.fail(f"{where}: {pkg} may import only {sorted(allowed)}")
            continue
        if root in ALLOWED_THIRD_PARTY[pkg] or (pkg == "station" and root == "smbus2"):
            continue
        if not top and root in LAZY_OK.get(pkg, set()):
            continue
        pytest.fail(f"{where}: {pkg} may not import {root}")


@pytest.mark.parametrize("path", product_files(), ids=rel)
def test_architecture_only_the_composition_root_chooses_hardware(path: Path) -> None:
    if rel(path) == "station/hardware.py" or is_sim(path):
        return
    for module, _, line in imports_of(path):
        hit = any(module == r or module.startswith(r + ".") for r in ROOT_ONLY)
        sim = ".sim" in f".{module}" and any(p == "sim" for p in module.split("."))
        assert not (hit or sim), (
            f"{rel(path)}:{line} imports {module}; only station/hardware.py may"
        )


@pytest.mark.parametrize("path", product_files(), ids=rel)
def test_architecture_no_product_code_looks_for_pytest(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "pytest" not in text, f"{rel(path)} mentions pytest"
    assert "PYTEST_CURRENT_TEST" not in text


@pytest.mark.parametrize("path", product_files(), ids=rel)
def test_architecture_nothing_calls_time_sleep_but_the_clock(path: Path) -> None:
    if rel(path) == "drivers/clock.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("sleep", "sleep_ms", "sleep_us")
            and isinstance(node.value, ast.Name)
            and node.value.id == "time"
        ):
            pytest.fail(f"{rel(path)}:{node.lineno} calls time.{node.attr}; use the clock")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            names = {a.name for a in node.names}
            assert "sleep" not in names, f"{rel(path)} imports time.sleep"


def driver_files() -> list[Path]:
    return [
        p for p in sorted((ROOT / "drivers").glob("*.py")) if p.name not in CPYTHON_DRIVER_FILES
    ]


@pytest.mark.parametrize("path", driver_files(), ids=rel)
def test_architecture_driver_files_are_micropython_clean(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for inner in node.body:
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    guarded.add(inner.lineno)
    for module, _, line in imports_of(path):
        root = module.split(".")[0]
        assert root in MICROPYTHON_OK, f"{rel(path)}:{line} imports {module} (not MicroPython)"
        if root in ("typing", "micropython"):
            assert line in guarded, f"{rel(path)}:{line}: import {root} must be in try/except"
    for node in tree.body:
        # Per-instance buffers: no module-level mutable buffers shared between instances.
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            fn = node.value.func
            if isinstance(fn, ast.Name) and fn.id in ("bytearray", "memoryview"):
                pytest.fail(f"{rel(path)}:{node.lineno} module-level buffer; make it per instance")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for dec in node.decorator_list:
                name = getattr(dec, "id", getattr(getattr(dec, "func", None), "id", ""))
                assert name != "dataclass", f"{rel(path)}: no dataclasses in drivers"
            for base in node.bases:
                assert getattr(base, "id", "") not in ("Enum", "IntEnum", "ABC"), (
                    f"{rel(path)}: no enum/abc in drivers"
                )


def test_architecture_importing_touches_no_hardware_or_network() -> None:
    modules = []
    for path in product_files():
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    code = (
        "import builtins, os, socket, sys\n"
        "def deny(*a, **k): raise AssertionError('network touched at import: %r' % (a,))\n"
        "socket.socket.connect = deny\n"
        "socket.create_connection = deny\n"
        "real_open = os.open\n"
        "def guarded(path, *a, **k):\n"
        "    if str(path).startswith(('/dev/i2c', '/dev/gpio', '/sys/class/gpio')):\n"
        "        raise AssertionError('hardware touched at import: %s' % path)\n"
        "    return real_open(path, *a, **k)\n"
        "os.open = guarded\n"
        "import importlib\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print('imported', len(sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
