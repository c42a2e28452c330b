"""The generic Registry: registration, build, describe, presets, errors, interface checks."""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llara_core.errors import (
    ComponentInterfaceError,
    DuplicateComponentError,
    LlaraError,
    UnknownComponentError,
)
from llara_core.registry import NoParams, Registry
from llara_core.slots import PROJECTORS, SLOTS, get_slot

GROUP = "llara.tests.shapes"  # no installed distribution declares this group


class Shape(ABC):
    """A toy slot interface: something with an area."""

    Params = NoParams

    @abstractmethod
    def area(self) -> float: ...


class SquareParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    side: float = Field(1.0, gt=0)
    label: str = "square"


class Square(Shape):
    """A square of a given side.

    More text that describe() must not show.
    """

    Params = SquareParams

    def __init__(self, side: float = 1.0, label: str = "square", scale: float = 1.0):
        self.side, self.label, self.scale = side, label, scale

    def area(self) -> float:
        return (self.side * self.scale) ** 2


class Circle(Shape):
    """A unit circle (no params)."""

    def area(self) -> float:
        return 3.14159


@pytest.fixture
def shapes() -> Registry:
    return Registry("shapes", Shape, GROUP)


def test_register_build_and_names(shapes):
    shapes.register("square", Square)

    @shapes.register("circle")
    class _Circle(Circle):
        pass

    assert shapes.names() == ["circle", "square"]
    assert "square" in shapes and "triangle" not in shapes
    sq = shapes.build("square", {"side": 3})
    assert isinstance(sq, Square) and sq.area() == 9.0 and sq.label == "square"
    assert isinstance(shapes.build("circle"), _Circle)


def test_build_passes_runtime_dependencies_and_validates_params(shapes):
    shapes.register("square", Square)
    assert shapes.build("square", {"side": 2}, scale=3.0).area() == 36.0
    with pytest.raises(ValidationError) as info:
        shapes.build("square", {"side": -1, "colour": "red"})
    locs = {err["loc"] for err in info.value.errors()}
    assert locs == {("side",), ("colour",)}


def test_build_accepts_an_already_validated_params_model(shapes):
    shapes.register("square", Square)
    assert shapes.build("square", SquareParams(side=4)).area() == 16.0


def test_describe_reports_implementation_provider_summary_and_schema(shapes):
    shapes.register("square", Square)
    info = shapes.describe("square")
    assert info["implementation"] == f"{Square.__module__}.Square"
    assert info["summary"] == "A square of a given side."
    assert info["preset_of"] is None
    assert set(info["params_schema"]["properties"]) == {"side", "label"}
    # a class defined in a test module belongs to no installed distribution
    assert info["distribution"] == f"<code:{Square.__module__.split('.')[0]}>"
    assert info["version"] is None


def test_describe_builtin_names_the_llara_distribution_and_version():
    info = PROJECTORS.describe("mlp")
    assert info["distribution"] == "llara"
    assert info["version"] == md.version("llara")
    assert info["implementation"] == "llara_plugins.projectors.mlp.MLPProjector"
    assert "hidden_dim" in info["params_schema"]["properties"]


def test_preset_merges_defaults_and_user_params_win(shapes):
    shapes.register("square", Square)
    shapes.register_preset("big-square", "square", {"side": 10, "label": "big"}, summary="a big one")
    big = shapes.build("big-square")
    assert (big.side, big.label) == (10, "big")
    custom = shapes.build("big-square", {"side": 2})
    assert (custom.side, custom.label) == (2, "big")
    info = shapes.describe("big-square")
    assert info["preset_of"] == "square"
    assert info["preset_params"] == {"side": 10, "label": "big"}
    assert info["summary"] == "a big one"
    assert info["implementation"].endswith(".Square")
    # preset defaults are validated by the implementation's Params like user params
    shapes.register_preset("bad-square", "square", {"side": -5})
    with pytest.raises(ValidationError):
        shapes.build("bad-square")


def test_preset_of_a_preset_layers_defaults(shapes):
    shapes.register("square", Square)
    shapes.register_preset("big", "square", {"side": 10, "label": "big"})
    shapes.register_preset("big-named", "big", {"label": "named"})
    sq = shapes.build("big-named")
    assert (sq.side, sq.label) == (10, "named")


def test_preset_cycle_is_an_error_not_a_hang(shapes):
    shapes.register_preset("a", "b")
    shapes.register_preset("b", "a")
    with pytest.raises(LlaraError, match="cycle"):
        shapes.build("a")


def test_preset_of_unknown_base_names_the_base(shapes):
    shapes.register_preset("ghost", "nonexistent")
    with pytest.raises(UnknownComponentError, match="'nonexistent'"):
        shapes.build("ghost")


def test_duplicate_name_error_names_both_providers(shapes):
    shapes.register("square", Square)

    class OtherSquare(Square):
        pass

    with pytest.raises(DuplicateComponentError) as info:
        shapes.register("square", OtherSquare)
    msg = str(info.value)
    assert f"{Square.__module__}.Square" in msg
    assert f"{OtherSquare.__module__}.{OtherSquare.__qualname__}" in msg
    assert "override=True" in msg
    assert isinstance(shapes.build("square"), Square) and not isinstance(shapes.build("square"), OtherSquare)


def test_override_replaces_the_entry(shapes):
    shapes.register("square", Square)

    class OtherSquare(Square):
        pass

    shapes.register("square", OtherSquare, override=True)
    assert type(shapes.build("square")) is OtherSquare
    assert shapes.names() == ["square"]


def test_unknown_name_lists_known_names_and_closest_match(shapes):
    shapes.register("square", Square)
    shapes.register("circle", Circle)
    with pytest.raises(UnknownComponentError) as info:
        shapes.build("sqaure")
    msg = str(info.value)
    assert "did you mean 'square'?" in msg
    assert "known: circle, square" in msg
    assert isinstance(info.value, KeyError)  # callers may catch it as a lookup failure
    with pytest.raises(UnknownComponentError) as info:
        shapes.describe("zzzzzz")
    assert "did you mean" not in str(info.value)


def test_unregister_removes_the_name(shapes):
    shapes.register("square", Square)
    shapes.unregister("square")
    assert shapes.names() == []
    shapes.register("square", Square)  # the name is free again


def test_registration_rejects_a_class_outside_the_interface(shapes):
    class NotAShape:
        def area(self) -> float:
            return 1.0

    with pytest.raises(ComponentInterfaceError, match=r"does not implement .*Shape"):
        shapes.register("not-a-shape", NotAShape)
    with pytest.raises(ComponentInterfaceError):
        shapes.register("a-function", lambda: Square())
    assert shapes.names() == []


def test_registration_rejects_abstract_methods_left_unimplemented(shapes):
    class Half(Shape):
        """Forgot to implement area()."""

    with pytest.raises(ComponentInterfaceError, match="unimplemented: area"):
        shapes.register("half", Half)
    assert "half" not in shapes


def test_registration_rejects_params_that_are_not_a_pydantic_model(shapes):
    @dataclass
    class DataclassParams:
        side: float = 1.0

    class Odd(Square):
        Params = DataclassParams

    with pytest.raises(ComponentInterfaceError, match="Params must be a pydantic BaseModel"):
        shapes.register("odd", Odd)


def test_real_slot_registration_checks_the_slot_interface():
    with pytest.raises(ComponentInterfaceError, match="Projector"):
        PROJECTORS.register("test-square-projector", Square)
    assert "test-square-projector" not in PROJECTORS


def test_names_imports_nothing(shapes, fake_distribution, tmp_path):
    marker = tmp_path / "imported.txt"
    fake_distribution(
        "acme-shapes",
        {GROUP: {"hexagon": "acme_shapes_lazy:Hexagon", "broken": "acme_shapes_broken:Broken"}},
        {
            "acme_shapes_lazy.py": f"""
                from pathlib import Path
                Path({str(marker)!r}).write_text("imported")
                from {Shape.__module__} import Shape

                class Hexagon(Shape):
                    \"\"\"Six sides.\"\"\"
                    def area(self):
                        return 6.0
                """,
            "acme_shapes_broken.py": "raise RuntimeError('this module must never be imported by names()')\n",
        },
    )
    assert shapes.names() == ["broken", "hexagon"]
    assert "hexagon" in shapes
    assert shapes.provider("hexagon").distribution == "acme-shapes"
    assert not marker.exists()
    assert "acme_shapes_lazy" not in sys.modules and "acme_shapes_broken" not in sys.modules
    assert shapes.build("hexagon").area() == 6.0  # selecting it imports it
    assert marker.exists()
    assert "acme_shapes_broken" not in sys.modules


def test_an_interface_named_by_import_string_is_imported_only_to_check_a_class(fake_distribution):
    fake_distribution("lazy-interface", {}, {"lazy_iface_mod.py": """
        from abc import ABC, abstractmethod

        class Tool(ABC):
            \"\"\"A toy interface, imported on demand.\"\"\"

            @abstractmethod
            def use(self): ...
        """})
    tools = Registry("tools", "lazy_iface_mod:Tool", GROUP)
    assert tools.names() == [] and "hammer" not in tools
    assert tools.interface_name == "lazy_iface_mod.Tool"
    tools.register_preset("big-hammer", "hammer", {"size": 2})  # presets need no interface
    assert "lazy_iface_mod" not in sys.modules

    class NotATool:
        pass

    with pytest.raises(ComponentInterfaceError, match=r"does not implement lazy_iface_mod\.Tool"):
        tools.register("not-a-tool", NotATool)  # checking a class imports the interface
    assert "lazy_iface_mod" in sys.modules
    assert tools.interface is sys.modules["lazy_iface_mod"].Tool
    assert tools.contract == "A toy interface, imported on demand."

    class Hammer(tools.interface):
        def use(self):
            return "bang"

    tools.register("hammer", Hammer)
    assert tools.build("hammer").use() == "bang"


def test_get_slot_accepts_dashes_and_suggests_a_slot():
    assert get_slot("curriculum-schedulers") is SLOTS["curriculum_schedulers"]
    with pytest.raises(UnknownComponentError, match="did you mean 'projectors'"):
        get_slot("projector")


def test_every_slot_has_builtins_from_llara_that_implement_it():
    """timm-style: every built-in of every slot resolves, passes the interface check, describes."""
    for slot, registry in SLOTS.items():
        builtins = [n for n in registry.names() if registry.provider(n).distribution == "llara"]
        assert builtins, f"slot {slot} has no built-in component"
        for name in builtins:
            impl, _ = registry.resolve(name)
            assert issubclass(impl, registry.interface), (slot, name)
            assert registry.describe(name)["summary"], f"{slot}/{name} has no summary"


def test_llara_core_never_imports_llara_plugins():
    core = Path(__file__).resolve().parents[1] / "llara_core"
    offenders = []
    for path in core.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(core.parent)}: {n}" for n in names if n.split(".")[0] == "llara_plugins"]
    assert not offenders, offenders


def test_readme_composition_example_runs_and_prints_what_it_says(capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Composing components", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("#")[-1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert printed == promised


# --------------------------------------------------------------------------- runtime arguments and signatures
from llara_core.errors import BuildArgumentError  # noqa: E402
from llara_core.interfaces.component import Component  # noqa: E402
from llara_core.registry import RuntimeArgument  # noqa: E402


class Tile(Component, ABC):
    """A toy slot interface built like the real ones: a Component with runtime arguments."""

    @abstractmethod
    def area(self) -> float: ...


class TileParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colour: str = "red"
    scale: float = Field(1.0, gt=0)


@pytest.fixture
def tiles() -> Registry:
    return Registry("tiles", Tile, GROUP, runtime=(
        RuntimeArgument("side", "the tile's side, from the floor plan"),
        RuntimeArgument("room", "the room's name", required=False),
    ))


class GoodTile(Tile):
    """Takes the runtime argument and every param; ignores the optional room."""

    Params = TileParams

    def __init__(self, side, colour="red", scale=1.0):
        self.side, self.colour, self.scale = side, colour, scale

    def area(self) -> float:
        return (self.side * self.scale) ** 2


def test_constructed_as_states_the_runtime_arguments(tiles):
    assert tiles.constructed_as == "cls(side=..., room=..., **params)"
    assert Registry("free", Tile, GROUP).constructed_as == "cls(**params)"
    assert [a.name for a in tiles.runtime] == ["side", "room"]


@pytest.mark.parametrize(("init", "problem"), [
    ("def __init__(self, colour='red', scale=1.0): pass", "does not accept the runtime argument 'side'"),
    ("def __init__(self, side, colour='red'): pass", "does not accept 'scale', a field of its Params"),
    ("def __init__(self, side, colour='red', scale=1.0, *, grout): pass", "requires 'grout', which llara never passes"),
    ("def __init__(self, side, /, colour='red', scale=1.0): pass", "positional-only argument(s) 'side'"),
])
def test_registration_checks_the_constructor_against_the_slot(tiles, init, problem):
    namespace: dict = {}
    exec(f"class Bad(Tile):\n    Params = TileParams\n    {init}\n    def area(self): return 1.0\n",
         {"Tile": Tile, "TileParams": TileParams}, namespace)
    with pytest.raises(ComponentInterfaceError) as info:
        tiles.register("bad", namespace["Bad"])
    msg = str(info.value)
    assert problem in msg and "Bad.__init__ does not fit how llara builds tiles, cls(side=..., room=..., **params)" in msg
    assert "bad" not in tiles


def test_a_params_field_may_not_reuse_a_runtime_argument_name(tiles):
    class SideParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        side: float = 1.0

    class Clash(Tile):
        Params = SideParams

        def __init__(self, **kwargs):
            pass

        def area(self):
            return 1.0

    with pytest.raises(ComponentInterfaceError, match="its Params declares 'side', which the slot passes"):
        tiles.register("clash", Clash)


def test_var_keyword_constructors_and_inherited_ones_are_accepted(tiles):
    class Loose(Tile):
        Params = TileParams

        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def area(self):
            return 1.0

    class Inherits(GoodTile):
        pass

    tiles.register("loose", Loose)
    tiles.register("inherits", Inherits)
    assert tiles.build("loose", {"colour": "blue"}, side=2, room="hall").kwargs == {
        "colour": "blue", "scale": 1.0, "side": 2, "room": "hall"}  # **kwargs accepts the optional one
    assert tiles.build("inherits", side=3).area() == 9.0


def test_a_class_without_a_constructor_cannot_take_runtime_arguments(tiles):
    class NoInit(Tile):
        def area(self):
            return 1.0

    with pytest.raises(ComponentInterfaceError, match=r"object\.__init__ \(inherited by .*NoInit\) does not fit"):
        tiles.register("no-init", NoInit)


def test_build_checks_the_runtime_arguments_and_passes_optional_ones_only_where_accepted(tiles):
    tiles.register("good", GoodTile)
    tile = tiles.build("good", {"scale": 2}, side=3, room="hall")  # room: not declared by GoodTile
    assert tile.area() == 36.0
    with pytest.raises(BuildArgumentError, match="missing the runtime argument"):
        tiles.build("good")
    with pytest.raises(BuildArgumentError, match="got 'colour', which the slot does not declare"):
        tiles.build("good", side=1, colour="blue")

    class NeedsRoom(GoodTile):
        def __init__(self, side, room, colour="red", scale=1.0):
            super().__init__(side, colour, scale)
            self.room = room

    tiles.register("needs-room", NeedsRoom)
    assert tiles.build("needs-room", side=1, room="hall").room == "hall"
    with pytest.raises(BuildArgumentError, match="'room'"):
        tiles.build("needs-room", side=1)  # optional for the slot, required by this constructor
    assert isinstance(BuildArgumentError("x"), TypeError) and isinstance(BuildArgumentError("x"), LlaraError)


def test_hyperparameters_are_the_params_the_registry_validated(tiles):
    tiles.register("good", GoodTile)
    tiles.register_preset("blue", "good", {"colour": "blue"})
    tile = tiles.build("blue", {"scale": 2}, side=3)
    assert tile.hyperparameters() == {"colour": "blue", "scale": 2.0}  # preset defaults included, no runtime args
    assert "_hparams" not in vars(tile)


def test_hyperparameters_of_a_directly_constructed_instance_come_from_its_arguments():
    direct = GoodTile(3, scale=2.5)
    assert direct.hyperparameters() == {"colour": "red", "scale": 2.5}
    positional = GoodTile(3, "green")
    assert positional.hyperparameters() == {"colour": "green", "scale": 1.0}

    class Loose(Tile):
        Params = TileParams

        def __init__(self, side, **params):
            self.side = side

        def area(self):
            return 1.0

    assert Loose(1, colour="blue").hyperparameters() == {"colour": "blue", "scale": 1.0}  # **params too
    import copy

    assert copy.deepcopy(direct).hyperparameters() == direct.hyperparameters()
    with pytest.raises(ComponentInterfaceError, match="do not validate against its Params TileParams"):
        GoodTile(1, scale=-1).hyperparameters()


def test_every_slot_states_its_runtime_arguments_in_its_interface_docstring():
    """The contracts are the code's: each interface's docstring says how its slot constructs it."""
    expected = {
        "item_encoders": "cls(n_items=..., **params)",
        "projectors": "cls(in_dim=..., out_dim=..., **params)",
        "prompt_builders": "cls(titles=..., dataset_domain=..., **params)",
        "curriculum_schedulers": "cls(**params)",
        "backbones": "cls(**params)",
    }
    for slot, registry in SLOTS.items():
        assert registry.constructed_as == expected[slot]
        doc = " ".join(registry.interface.__doc__.split())
        assert f"Built as ``{registry.constructed_as}``" in doc, slot
        for arg in registry.runtime:
            assert f"``{arg.name}``" in doc, (slot, arg.name)
        assert registry.describe(registry.names()[0])["constructed_as"] == expected[slot]
