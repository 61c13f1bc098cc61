"""The README's two import tables are generated here and must match the README: the rules of each dialect
(neurokit.dialects), and framework x primitive x status, each cell backed by the test that shows it.
NEUROKIT_UPDATE_README=1 rewrites the README's blocks instead of checking them."""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from neurokit.dialects import rules_table

README = Path(__file__).resolve().parents[1] / "README.md"

EXACT = "exact"
PRIMITIVES = ["Affine / Linear", "Conv2d", "Flatten", "LIF", "CubaLIF", "IF", "recurrent"]
# framework -> primitive -> (status, the test that shows it: module::function[param id], or the reason)
STATUS = {
    "snnTorch 1.0.0": {
        "Affine / Linear": (EXACT, "test_interop::TestFloat::test_spikes_equal_library[snntorch-mlp]"),
        "Conv2d": (EXACT, "test_interop::TestFloat::test_spikes_equal_library[snntorch-conv]"),
        "Flatten": (EXACT, "test_interop::TestFloat::test_spikes_equal_library[snntorch-conv]"),
        "LIF": (EXACT, "Leaky, subtract (default) and --reset zero: "
                       "test_interop::TestFloat::test_spikes_equal_library[snntorch-mlp_zero]"),
        "CubaLIF": (EXACT, "Synaptic: test_interop::TestFloat::test_spikes_equal_library[snntorch-conv]"),
        "IF": ("not exported", "snnTorch exports no IF"),
        "recurrent": (EXACT, "RLeaky: test_interop::TestFloat::test_spikes_equal_library[snntorch-recurrent]"),
    },
    "Norse 1.1.0": {
        "Affine / Linear": (EXACT, "test_interop::TestFloat::test_spikes_equal_library[norse-mlp]"),
        "Conv2d": (EXACT, "test_interop::TestFloat::test_spikes_equal_library[norse-conv]"),
        "Flatten": ("not exported", "Norse writes None for nn.Flatten; the test graph maps it to nir.Flatten"),
        "LIF": (EXACT, "LIFBoxCell: test_interop::TestFloat::test_spikes_equal_library[norse-mlp]"),
        "CubaLIF": (EXACT, "LIFCell: test_interop::TestFloat::test_spikes_equal_library[norse-conv]"),
        "IF": ("untested", "IAFCell exports as IF; no test net"),
        "recurrent": ("not exported", "Norse 1.1.0 writes None for LIFRecurrentCell"),
    },
    "sinabs 3.1.3": {
        "Affine / Linear": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[sinabs-mlp_lif_single]"),
        "Conv2d": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[sinabs-conv_iaf]"),
        "Flatten": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[sinabs-conv_iaf]"),
        "LIF": (EXACT, "SingleSpike: test_interop::TestPeerFrameworks::test_spikes_equal_framework[sinabs-mlp_lif_single]; "
                       "MultiSpike refused (--spikes multi)"),
        "CubaLIF": ("not exported", "sinabs does not write tau_syn"),
        "IF": (EXACT, "IAF: test_interop::TestPeerFrameworks::test_spikes_equal_framework[sinabs-mlp_iaf_single]"),
        "recurrent": ("not exported", "sinabs.to_nir: NotImplementedError for LIFRecurrent"),
    },
    "SpikingJelly 2.0.0": {
        "Affine / Linear": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[spikingjelly-mlp_lif]"),
        "Conv2d": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[spikingjelly-conv_lif]"),
        "Flatten": (EXACT, "test_interop::TestPeerFrameworks::test_spikes_equal_framework[spikingjelly-conv_lif]"),
        "LIF": (EXACT, "LIFNode: test_interop::TestPeerFrameworks::test_spikes_equal_framework[spikingjelly-mlp_lif]"),
        "CubaLIF": ("untested", "CUBALIFNode exports as CubaLIF; no test net"),
        "IF": (EXACT, "IFNode: test_interop::TestPeerFrameworks::test_spikes_equal_framework[spikingjelly-mlp_if]"),
        "recurrent": ("not exported", "export_to_nir: 'The only supported function is addition'"),
    },
    "lava-dl 0.6.0": {p: ("no exporter", "lava-dl has no NIR code; neurokit reads its netx .net files directly")
                      for p in PRIMITIVES},
    "NIR equations (`--dialect nir`)": {
        "Affine / Linear": (EXACT, "test_import::test_lif_cubalif_li_chain_equals_nir_equations"),
        "Conv2d": (EXACT, "Conv1d as a 1 x K Conv2d: test_import::test_delay_node_and_conv1d"),
        "Flatten": (EXACT, "test_import::test_delay_node_and_conv1d"),
        "LIF": (EXACT, "test_import::test_lif_cubalif_li_chain_equals_nir_equations"),
        "CubaLIF": (EXACT, "test_import::test_lif_cubalif_li_chain_equals_nir_equations"),
        "IF": (EXACT, "also I, Threshold: test_import::test_if_i_threshold_recurrent_nested_graph"),
        "recurrent": (EXACT, "nested NIRGraph: test_import::test_if_i_threshold_recurrent_nested_graph"),
    },
}


def status_table() -> str:
    out = ["| framework | " + " | ".join(PRIMITIVES) + " |", "|---" * (len(PRIMITIVES) + 1) + "|"]
    for fw, cells in STATUS.items():
        out.append(f"| {fw} | " + " | ".join(cells[p][0] for p in PRIMITIVES) + " |")
    return "\n".join(out)


def _block(name: str, body: str, text: str) -> tuple[str, str]:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r"\n(.*?)" + re.escape(end), re.S)
    m = pattern.search(text)
    assert m, f"README.md has no {start} ... {end} block"
    return m.group(1).strip(), pattern.sub(start + "\n" + body + "\n" + end, text)


def test_every_exact_cell_names_a_test_that_exists():
    for fw, cells in STATUS.items():
        for prim, (status, evidence) in cells.items():
            if status != EXACT:
                continue
            ref = re.search(r"(test_\w+)::(?:(\w+)::)?(test_\w+)", evidence)
            assert ref, f"{fw} {prim}: no test named in {evidence!r}"
            module = importlib.import_module(ref.group(1))
            owner = getattr(module, ref.group(2)) if ref.group(2) else module
            assert hasattr(owner, ref.group(3)), f"{fw} {prim}: {evidence} does not exist"


def test_readme_tables_are_generated_from_the_rules_and_the_tests():
    text = README.read_text()
    rules_now, text = _block("dialect-rules", rules_table(), text)
    status_now, text = _block("import-status", status_table(), text)
    if os.environ.get("NEUROKIT_UPDATE_README"):
        README.write_text(text)
        return
    assert rules_now == rules_table().strip(), "README's dialect table is stale: NEUROKIT_UPDATE_README=1 pytest ..."
    assert status_now == status_table().strip(), "README's import table is stale: NEUROKIT_UPDATE_README=1 pytest ..."
