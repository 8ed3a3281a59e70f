"""The model zoo: bundled models, the cache, and downloads from a real HTTP server on 127.0.0.1
that also misbehaves (corrupt file, 404, a 500 before success, closing mid-transfer)."""
import http.server
import io
import json
import pickle
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from graphsci import zoo
from graphsci.zoo.store import BUNDLED, sha256


def test_bundled_models_are_registered_and_verified():
    models = {m["name"]: m for m in zoo.list_models()}
    assert "esol" in models and models["esol"]["bundled"]
    for name, m in models.items():
        folder = BUNDLED / name
        for fname, meta in zoo.store.registry()[name]["files"].items():
            assert sha256(folder / fname) == meta["sha256"]
            assert (folder / fname).stat().st_size <= 3 * 2 ** 20


def test_esol_model_predicts_known_solubilities():
    model = zoo.load_pretrained("esol")
    # Measured log-solubilities (mol/L): benzene -1.64, naphthalene -3.60, ethanol 1.10.
    frame = model.predict_frame(["c1ccccc1", "c1ccc2ccccc2c1", "CCO", "C1CC"])
    values = frame["log_solubility"].to_numpy()
    assert np.all(np.abs(values[:3] - [-1.64, -3.60, 1.10]) < 1.0)    # test RMSE is 0.83
    assert values[1] < values[0] < values[2]
    assert (frame["log_solubility_std"].to_numpy()[:3] > 0).all()   # an ensemble
    assert np.isnan(values[3]) and "C1CC" in frame["error"].iloc[3]
    assert model.metadata_["units"]["log_solubility"] == "log10(mol/L)"


def test_unknown_name_suggests_close_names():
    with pytest.raises(zoo.ZooError, match="did you mean esol"):
        zoo.load_pretrained("esoll")


def test_newer_card_version_is_refused(tmp_path):
    shutil.copytree(BUNDLED / "esol", tmp_path / "m")
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    card["card_version"] = 99
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="newer than this graphsci"):
        zoo.load_pretrained(tmp_path / "m")


def test_a_pickle_in_place_of_weights_is_never_executed(tmp_path):
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    shutil.copytree(BUNDLED / "esol", tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="model.safetensors"):
        zoo.load_pretrained(tmp_path / "m")
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    card["weights"]["sha256"] = sha256(weights)      # even with a matching checksum
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="cannot be read"):
        zoo.load_pretrained(tmp_path / "m")
    assert not marker.exists()


# ---- downloads -------------------------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    failures: dict = {}
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        if "flaky" in self.path and self.failures.get(self.path, 0) < 1:
            self.failures[self.path] = self.failures.get(self.path, 0) + 1
            self.send_error(500, "temporary failure")
            return
        if "truncated" in self.path and self.path.endswith(".safetensors"):
            data = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        if "endless" in self.path and self.path.endswith(".safetensors"):
            self.send_response(200)             # no Content-Length: the body never ends
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0" * (1 << 16))
            except OSError:                     # the client hung up, as it should
                return
        super().do_GET()


@pytest.fixture
def served_zoo(tmp_path, monkeypatch):
    """A zoo folder served over HTTP, a registry naming its models, and an empty cache."""
    root = tmp_path / "served"
    entries = {}
    for name in ("remote", "corrupt", "truncated", "flaky", "missing", "endless"):
        src = BUNDLED / "esol"
        entries[f"esol-{name}"] = {"task": "regression", "dataset": "esol", "split": "scaffold",
                                   "metrics": {}, "files": {f: {"sha256": sha256(src / f), "size": (src / f).stat().st_size}
                                                            for f in ("card.json", "model.safetensors")}}
        if name != "missing":
            shutil.copytree(src, root / f"esol-{name}")
    bad = root / "esol-corrupt" / "model.safetensors"
    data = bytearray(bad.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "registry.json").write_text(json.dumps({"models": entries}))

    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.requests.clear()
    _Handler.failures.clear()
    monkeypatch.setenv("GRAPHSCI_ZOO_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("GRAPHSCI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRAPHSCI_ZOO_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield tmp_path
    server.shutdown()
    server.server_close()


def _leftovers(home: Path, name: str):
    folder = home / "zoo" / name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_caches(served_zoo):
    model = zoo.load_pretrained("esol-remote", progress=False)
    assert model.predict_frame(["CCO"])["error"].iloc[0] is None
    assert sorted(_leftovers(served_zoo / "home", "esol-remote")) == ["card.json", "model.safetensors"]
    n = len(_Handler.requests)
    zoo.load_pretrained("esol-remote", progress=False)       # from the cache: no request
    assert len(_Handler.requests) == n


def test_corrupt_download_is_refused_and_not_kept(served_zoo):
    with pytest.raises(zoo.ZooError, match="checksum mismatch"):
        zoo.load_pretrained("esol-corrupt", progress=False)
    assert "model.safetensors" not in _leftovers(served_zoo / "home", "esol-corrupt")
    assert not [p for p in _leftovers(served_zoo / "home", "esol-corrupt") if p.endswith(".part")]


def test_http_404_names_the_url(served_zoo):
    with pytest.raises(zoo.ZooError, match=r"HTTP 404.*esol-missing/card.json"):
        zoo.load_pretrained("esol-missing", progress=False)


def test_server_closing_mid_transfer_leaves_no_partial_file(served_zoo):
    with pytest.raises(zoo.ZooError, match="truncated"):
        zoo.load_pretrained("esol-truncated", progress=False)
    assert _leftovers(served_zoo / "home", "esol-truncated") == ["card.json"]
    assert sum("truncated/model" in r for r in _Handler.requests) == 3     # retried


def test_a_body_without_end_is_cut_at_the_registered_size(served_zoo):
    with pytest.raises(zoo.ZooError, match="larger than its registered"):
        zoo.load_pretrained("esol-endless", progress=False)
    assert _leftovers(served_zoo / "home", "esol-endless") == ["card.json"]
    assert sum("endless/model" in r for r in _Handler.requests) == 1       # not retried


def test_server_error_is_retried(served_zoo):
    zoo.pull("esol-flaky", progress=False)
    assert sum(r.endswith("esol-flaky/card.json") for r in _Handler.requests) == 2


def test_no_network_says_where_to_put_the_file(served_zoo, monkeypatch):
    monkeypatch.setenv("GRAPHSCI_ZOO_URL", "http://127.0.0.1:9")   # nothing listens there
    with pytest.raises(zoo.ZooError) as info:
        zoo.load_pretrained("esol-remote", progress=False)
    message = str(info.value)
    assert "http://127.0.0.1:9/esol-remote/card.json" in message
    assert str(served_zoo / "home" / "zoo" / "esol-remote") in message


def test_file_url(served_zoo, monkeypatch):
    monkeypatch.setenv("GRAPHSCI_ZOO_URL", (served_zoo / "served").as_uri())
    folder = zoo.pull("esol-remote", progress=False)
    assert folder == served_zoo / "home" / "zoo" / "esol-remote"
    assert zoo.model_info("esol-remote")["card"]["targets"] == ["log_solubility"]


def test_protein_zoo_models(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    from graphsci.protein.datasets import load_klifs
    from graphsci.train import roc_auc

    protease = Path(SHARED_DATA) / "proteins" / "labelled" / "hiv1_protease_states"
    labels = pd.read_csv(protease / "labels.csv")
    picks = pd.concat([labels[labels.flap_state == "open"].head(4), labels[labels.flap_state == "closed"].head(4)])
    flaps = zoo.load_pretrained("protease_flap")
    p = flaps.predict_proba([str(protease / f) for f in picks["file"]])[:, 1]
    assert roc_auc(p, (picks["flap_state"] == "open").to_numpy().astype(float)) >= 0.75
    assert flaps.metadata_["input"] == "structure" and len(flaps.models_) == 3

    pockets = load_klifs(SHARED_DATA, limit=80)
    dfg = zoo.load_pretrained("klifs_dfg")
    assert roc_auc(dfg.predict_proba(pockets.graphs)[:, 1], pockets.y.astype(float)) > 0.9
    # the command line reads a KLIFS-layout pocket table
    table = pd.read_csv(Path(SHARED_DATA) / "proteins" / "labelled" / "klifs_kinase_pocket_ca"
                        / "pocket_residue_ca_atom_coordinates.csv.gz", nrows=400)
    table["atom.x"] = table["atom.x"].astype(object)
    table.loc[table["structure.klifs_id"] == table["structure.klifs_id"].iloc[-1], "atom.x"] = "oops"
    table.to_csv(tmp_path / "pockets.csv", index=False)
    exe = str(Path(sys.executable).with_name("graphsci"))
    proc = subprocess.run([exe, "predict", "klifs_dfg", str(tmp_path / "pockets.csv")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False)
    assert list(out.columns)[:2] == ["structure", "dfg_out (probability)"]
    assert len(out) == table["structure.klifs_id"].nunique() and out["error"].iloc[-1] != ""
    assert (out["error"].iloc[:-1] == "").all()


def test_readme_zoo_table_is_generated_from_the_cards():
    from graphsci.zoo.build import README_END, README_START, readme_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme[readme.index(README_START) + len(README_START):readme.index(README_END)].strip()
    assert block == readme_table(BUNDLED.parent)
    assert all(f"`{name}`" in block for name in zoo.store.registry())


def test_download_of_a_blend_with_model_folders(served_zoo):
    import pandas as pd
    from graphsci.chem import FingerprintGBDT, MoleculeBlend
    from conftest import SHARED_DATA

    esol = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")[:200]
    blend = MoleculeBlend([FingerprintGBDT(n_estimators=20, progress=False),
                           FingerprintGBDT(n_estimators=20, seed=1, radius=1, progress=False)])
    folder = blend.fit(esol["smiles"], esol["logp"]).save(served_zoo / "served" / "blend-remote")
    files = {f.relative_to(folder).as_posix(): {"sha256": sha256(f), "size": f.stat().st_size}
             for f in sorted(folder.rglob("*")) if f.is_file()}
    assert "model0/target0.txt" in files
    registry_file = served_zoo / "registry.json"
    registry = json.loads(registry_file.read_text())
    registry["models"]["blend-remote"] = {"task": "regression", "dataset": "esol", "split": "random",
                                          "metrics": {}, "files": files}
    registry["models"]["escape"] = {"task": "regression", "dataset": "esol", "split": "random", "metrics": {},
                                    "files": {"../outside.txt": {"sha256": "0" * 64, "size": 1}}}
    registry_file.write_text(json.dumps(registry))
    loaded = zoo.load_pretrained("blend-remote", progress=False)
    assert np.array_equal(loaded.predict(["CCO", "c1ccccc1"]), blend.predict(["CCO", "c1ccccc1"]))
    assert sorted(_leftovers(served_zoo / "home", "blend-remote")) == ["card.json", "model0", "model1"]
    with pytest.raises(zoo.ZooError, match="outside its folder"):
        zoo.load_pretrained("escape", progress=False)
    assert not (served_zoo / "home" / "zoo" / "outside.txt").exists()


def test_a_folder_named_like_a_zoo_model_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "esol").mkdir()                   # e.g. a folder of one's own ESOL files
    assert zoo.load_pretrained("esol").predict_frame(["CCO"])["error"].iloc[0] is None
    (tmp_path / "mystery").mkdir()
    with pytest.raises(zoo.ZooError, match="has no card.json"):
        zoo.load_pretrained("mystery")
