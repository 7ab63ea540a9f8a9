"""The registry of methods, their declared attributes, and the purity of the package."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tanhui.errors import MethodError
from tanhui.measure.methods import METHODS, get_method
from tanhui.measure.methods.base import Reason

EXPECTED = {
    "stock": "none",
    "stock-difference": "required",
    "smcer": "optional",
    "ccer-afforestation": "optional",
    "forest-management": "required",
    "stop-logging": "optional",
}


def test_registry_names_and_baselines():
    assert {name: m.baseline for name, m in METHODS.items()} == EXPECTED


@pytest.mark.parametrize("name", list(EXPECTED))
def test_method_attributes(name):
    m = get_method(name)
    assert m.name == name
    assert m.version == "1"
    assert m.title_zh and m.title_en
    assert isinstance(m.ex_post, bool)
    assert m.applicability_zh and m.applicability_en
    assert m.reasons and all(isinstance(r, Reason) for r in m.reasons)
    assert len({r.bit for r in m.reasons}) == len(m.reasons)
    assert callable(m.compute) and callable(m.compute_naive)
    module = importlib.import_module(type(m).__module__)
    doc = module.__doc__ or ""
    assert any(tag in doc for tag in ("[V]", "[R]", "[I]")), "docstring states the source tag"
    for r in m.reasons:  # every reason is documented in the module docstring
        assert r.code in doc, r.code


def test_unknown_method_lists_available_names():
    with pytest.raises(MethodError) as caught:
        get_method("vcs")
    for name in EXPECTED:
        assert name in caught.value.en and name in caught.value.zh
    assert "vcs" in caught.value.en


def test_importing_methods_does_not_import_pandas_or_pyarrow():
    code = (
        "import sys\n"
        "import tanhui.measure.kernels\n"
        "import tanhui.measure.methods\n"
        "bad = sorted(m for m in ('pandas', 'pyarrow', 'tanhui.inventory') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
