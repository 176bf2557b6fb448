"""The dependency arrows of ARCHITECTURE.md §2 and the driver rules of §3, checked with ast.

station ──► sensors, ui_lcd, mqtt_bridge, drivers
sensors ──► drivers, numpy (and gpiozero for the PWM motor fallback)
ui_lcd ──► drivers, gpiozero
mqtt_bridge ──► paho-mqtt, stdlib (matplotlib, flask, jinja2 and werkzeug only lazily, in
    the clinic plots and dashboard; psycopg only lazily, in the clinic's PostgreSQL backend)
drivers ──► the stdlib subset MicroPython also has
hw_tests ──► station.config, station.hardware, sensors, drivers, ui_lcd, mqtt_bridge

Only station/hardware.py (the composition root) imports smbus2, a ``sim`` module or
gpiozero's mock or real pin factories; simulated-world modules (``*/sim/*``) may import
each other. No product code looks for pytest.

Inside station/, the layers (top to bottom): commands, app, runner, protocols, then the
base (plan, safety, journal and the parts below them); a module imports only its own
layer and the ones below. ``station/sim/`` imports nothing of the station but the
simulated world: the virtual patient must not see the session logic it is measured by.
No product module takes part in an import cycle (counting function-level and
``TYPE_CHECKING`` imports: a cycle hidden from the interpreter is still a knot to read).
"""

from __future__ import annotations

import ast
import functools
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
#: What the command modules (station/commands/) may import besides the station's own.
COMMANDS_ALSO = {"hw_tests"}
#: Lazy (function-level) imports allowed for optional extras.
LAZY_OK = {"mqtt_bridge": {"matplotlib", "flask", "jinja2", "werkzeug", "psycopg"}}
#: What a MicroPython-clean driver file may import.
MICROPYTHON_OK = {"struct", "time", "micropython", "typing", "errno", "drivers"}
#: The layers inside station/, top first; a module not named is in the base layer (plan,
#: safety, journal, config, hardware, ...). A module imports only its layer and below.
STATION_LAYERS = (
    ("commands", ("station.__main__", "station.cli", "station.commands", "station.bench")),
    ("app", ("station.app",)),
    (
        "runner",
        (
            "station.runner",
            "station.session_checks",
            "station.session_end",
            "station.session_results",
            "station.recovery",
            "station.summary",
            "station.plan_review",
        ),
    ),
    ("protocols", ("station.protocols",)),
)
#: What of the station ``station/sim/`` may import: itself, and the configuration that
#: says where its chips are wired (no session logic: runner, protocols, safety, app, ui).
SIM_MAY_IMPORT = ("station.sim", "station.config")
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
            if rel(path).startswith("station/commands/"):
                allowed = allowed | COMMANDS_ALSO  # the technician's selftest runs hw_tests
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


# -- the module graph ------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in product_files()}


def _owner(name: str) -> str | None:
    """The product module ``name`` is or is inside (``station.plan.Plan`` -> station.plan)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def module_imports(path: Path) -> dict[str, int]:
    """The product modules ``path`` imports, anywhere in the file, with the first line.

    ``from pkg import sub`` is an import of the module ``pkg.sub`` when there is one (the
    dependency it states), else of ``pkg``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = _relative(path, node) if node.level else (node.module or "")
            for a in node.names:
                sub = f"{base}.{a.name}"
                names.append(sub if sub in MODULES else base)
        for name in names:
            owner = _owner(name)
            if owner is not None and owner != module_name(path):
                out.setdefault(owner, node.lineno)
    return out


@functools.cache
def graph() -> dict[str, dict[str, int]]:
    """Each product module's imports of the others (name -> first line): parsed when a
    test asks, not when the module is collected (every xdist worker collects it)."""
    return {m: module_imports(p) for m, p in MODULES.items()}


def station_layer(module: str) -> int:
    """0 for the top (commands) ... len(STATION_LAYERS) for the base."""
    for n, (_, members) in enumerate(STATION_LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return n
    return len(STATION_LAYERS)


def layer_name(n: int) -> str:
    return STATION_LAYERS[n][0] if n < len(STATION_LAYERS) else "base"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("station")))
def test_architecture_station_layers_point_down(module: str) -> None:
    here = station_layer(module)
    for other, line in graph()[module].items():
        if not other.startswith("station") or other == "station":
            continue
        there = station_layer(other)
        assert there >= here, (
            f"{rel(MODULES[module])}:{line} imports {other}: the {layer_name(here)} layer "
            f"may not import the {layer_name(there)} layer above it"
        )


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("station.sim")))
def test_architecture_the_simulated_world_never_sees_the_session_logic(module: str) -> None:
    for other, line in graph()[module].items():
        if other.startswith("station") and not other.startswith(SIM_MAY_IMPORT):
            pytest.fail(
                f"{rel(MODULES[module])}:{line} imports {other}: the simulated world acts "
                "only through the physical channels, never on the station's own logic"
            )


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        cycles.append(sorted(comp))
    return cycles


def cycle_path(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """One shortest cycle through ``component``'s first module (breadth first)."""
    start, inside = component[0], set(component)
    came: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return path[::-1]
            if w in inside and w not in came:
                came[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def test_architecture_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}, "e": {}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert cycle_path(graph, ["b", "a", "c"]) == ["b", "c", "a"]
    assert import_cycles({"a": {"b": 1}, "b": {}}) == []


def test_architecture_no_import_cycles() -> None:
    described = []
    imports = graph()
    for component in import_cycles(imports):
        path = cycle_path(imports, component)
        hops = zip(path, path[1:] + path[:1], strict=True)
        described.append(" -> ".join(f"{rel(MODULES[a])}:{imports[a][b]}" for a, b in hops))
    assert not described, "import cycles (file:line of each import):\n" + "\n".join(described)
