"""Tests for hydrarec_minimal/data.py: parsing, caching, downloads and their failures."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import ML1M_FINGERPRINT

from hydrarec_minimal import data as D

# A few lines in the official u.data format: user, item, rating, timestamp (tab-separated).
U_DATA = """\
1\t10\t5\t300
1\t11\t3\t100
1\t12\t4\t300
1\t13\t4\t200
2\t10\t2\t50
2\t13\t1\t40
2\t11\t5\t60
"""


def make_zip(members: dict[str, str]) -> bytes:
    """A zip archive holding the given {path: text} members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over a folder; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fake_source(monkeypatch, url: str, payload: bytes) -> None:
    """Point ml-100k at ``url`` with the md5 of ``payload``."""
    src = D.SOURCES["ml-100k"]
    fake = D.Source(
        url, hashlib.md5(payload).hexdigest(), src.ratings, src.sep, src.titles, src.titles_sep
    )
    monkeypatch.setitem(D.SOURCES, "ml-100k", fake)


# ----------------------------------------------------------------------------- parsing


def test_chronological_sequences_are_stable_sorted(tmp_path):
    path = tmp_path / "u.data"
    path.write_text(U_DATA)
    seqs = D.chronological_sequences(D.read_ratings(path, "\t"))
    # user 1: ts 100 (11), 200 (13), then the tie at 300 in file order: 10 before 12
    assert seqs == {1: [11, 13, 10, 12], 2: [13, 10, 11]}


def test_sequences_round_trip(tmp_path):
    seqs = {3: [5, 6, 7], 1: [9]}
    D.write_sequences(tmp_path / "sequences.txt", seqs)
    assert D.read_sequences(tmp_path / "sequences.txt") == seqs
    assert not (tmp_path / "sequences.tmp").exists()


def test_bad_lines_are_reported_with_their_place(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\t3\t4\nnot a rating line\n")
    with pytest.raises(D.DataError, match=r"u.data:2"):
        D.read_ratings(tmp_path / "u.data", "\t")
    (tmp_path / "sequences.txt").write_text("1 2 3\nx y\n")
    with pytest.raises(D.DataError, match=r"sequences.txt:2"):
        D.read_sequences(tmp_path / "sequences.txt")


def test_official_files_are_parsed_once_into_sequences(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(U_DATA)
    assert D.fetch("ml-100k", tmp_path, download=False) == folder
    assert D.read_sequences(folder / "sequences.txt") == {1: [11, 13, 10, 12], 2: [13, 10, 11]}
    (folder / "u.data").unlink()  # the processed form is enough from now on
    data = D.load_movielens("ml-100k", min_item_count=1, home=tmp_path, download=False)
    assert (data.num_users, data.num_items, data.num_interactions) == (2, 4, 7)


def test_sequence_data_filters_items_then_users_and_remaps():
    raw = {1: [10, 11, 12, 10], 2: [10, 11, 13], 3: [13, 14, 15]}
    data = D.sequence_data("x", raw, min_item_count=2, min_user_len=3)
    # counts: 10 x3, 11 x2, 13 x2, 12/14/15 x1 -> keep 10, 11, 13
    assert data.movie_ids == [10, 11, 13]
    assert data.users == [1, 2]  # user 3 keeps only [13]: too short for a split
    assert data.sequences == [[1, 2, 1], [1, 2, 3]]
    assert data.counts.tolist() == [0, 3, 2, 1]


def test_leave_one_out_split():
    data = D.sequence_data("x", {1: [1, 2, 3, 4, 5], 2: [3, 2, 1]}, min_item_count=1)
    split = data.split()
    assert split.train == [[1, 2, 3], [3]]
    assert split.valid_target.tolist() == [4, 2] and split.test_target.tolist() == [5, 1]
    assert split.test_input == [[1, 2, 3, 4], [3, 2]]


def test_pad_left_keeps_the_most_recent_items():
    out = D.pad_left([[1, 2, 3, 4], [5], []], 3)
    assert out.tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]]
    assert out.dtype == torch.long


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'ml-25m'"):
        D.load_movielens("ml-25m", home=tmp_path)


def test_data_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(D.ENV_VAR, str(tmp_path))
    assert D.data_home() == tmp_path
    assert D.data_home(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv(D.ENV_VAR)
    assert "hydrarec" in str(D.data_home())


# ----------------------------------------------------------------------------- downloads


def test_download_checks_the_hash_and_extracts(server, tmp_path, monkeypatch):
    root, url = server
    payload = make_zip({"ml-100k/u.data": U_DATA, "ml-100k/u.item": "10|Heat (1995)|x\n"})
    (root / "ml-100k.zip").write_bytes(payload)
    fake_source(monkeypatch, f"{url}/ml-100k.zip", payload)
    home = tmp_path / "home"
    data = D.load_movielens("ml-100k", min_item_count=1, home=home)
    assert data.num_interactions == 7
    assert (home / "ml-100k" / "sequences.txt").exists()
    assert D.load_titles("ml-100k", home) == {10: "Heat (1995)"}


def test_corrupt_download_names_both_hashes_and_keeps_nothing(server, tmp_path, monkeypatch):
    root, url = server
    payload = make_zip({"ml-100k/u.data": U_DATA})
    (root / "ml-100k.zip").write_bytes(payload[: len(payload) // 2])  # truncated on the server
    fake_source(monkeypatch, f"{url}/ml-100k.zip", payload)
    home = tmp_path / "home"
    with pytest.raises(D.DataError) as err:
        D.load_movielens("ml-100k", home=home)
    expected = hashlib.md5(payload).hexdigest()
    got = hashlib.md5(payload[: len(payload) // 2]).hexdigest()
    assert expected in str(err.value) and got in str(err.value)
    assert not list(home.glob("*.zip")), "a corrupt download must not be kept"


def test_corrupt_cached_zip_is_replaced(server, tmp_path, monkeypatch):
    root, url = server
    payload = make_zip({"ml-100k/u.data": U_DATA})
    (root / "ml-100k.zip").write_bytes(payload)
    fake_source(monkeypatch, f"{url}/ml-100k.zip", payload)
    home = tmp_path / "home"
    home.mkdir()
    (home / "ml-100k.zip").write_bytes(b"garbage")
    with pytest.raises(D.DataError, match="corrupt"):
        D.fetch("ml-100k", home, download=False)
    assert D.fetch("ml-100k", home).name == "ml-100k"
    assert D.md5sum(home / "ml-100k.zip") == hashlib.md5(payload).hexdigest()


def test_no_network_says_where_to_put_the_files(tmp_path, monkeypatch):
    fake_source(monkeypatch, "http://127.0.0.1:9/ml-100k.zip", b"x")
    with pytest.raises(D.DataError, match=r"put the official ml-100k.zip") as err:
        D.load_movielens("ml-100k", home=tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(D.DataError, match="not found"):
        D.load_movielens("ml-100k", home=tmp_path, download=False)


def test_zip_extraction_refuses_paths_outside_the_target(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip({"ml-100k/u.data": U_DATA, "../../escaped.txt": "x"}))
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(D.DataError, match="outside"):
        D.safe_extract(bad, target)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (target / "ml-100k").exists(), "nothing is extracted from a malicious archive"


# ----------------------------------------------------------------------------- the real data


def real_home() -> Path:
    """$HYDRAREC_DATA, which CI points at a writable copy of ../shared/data/movielens."""
    home = os.environ.get(D.ENV_VAR)
    if not home:
        pytest.skip("set HYDRAREC_DATA (make test does) to check the real MovieLens counts")
    return Path(home)


@pytest.mark.parametrize(
    "name, users, items, interactions, longest",
    [("ml-1m", 6040, 3416, 999_611, 2277), ("ml-100k", 943, 1349, 99_287, 648)],
)
def test_real_movielens_counts(name, users, items, interactions, longest):
    data = D.load_movielens(name, home=real_home())
    assert (data.num_users, data.num_items, data.num_interactions) == (users, items, interactions)
    assert int(data.lengths().max()) == longest
    assert min(min(s) for s in data.sequences) == 1 and max(max(s) for s in data.sequences) == items
    raw = D.load_movielens(name, min_item_count=1, home=real_home())
    assert raw.num_interactions == {"ml-1m": 1_000_209, "ml-100k": 100_000}[name]


def test_ml1m_fingerprint_is_the_canonical_order():
    """The filtered ML-1M in GroupLens's order (ties in ratings.dat's file order), written as
    'UserID MovieID ...' lines: the file SASRec, BERT4Rec, gSASRec and SASRec+ train on."""
    data = D.load_movielens("ml-1m", home=real_home())
    assert data.fingerprint() == ML1M_FINGERPRINT
    assert data.summary()["fingerprint"] == ML1M_FINGERPRINT


def test_ml1m_official_format_keeps_tied_timestamps_in_file_order(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::20::5::300\n1::10::3::100\n1::30::4::300\n1::40::4::300\n2::30::1::7\n2::10::2::7\n"
    )
    D.fetch("ml-1m", tmp_path, download=False)
    assert D.read_sequences(folder / "sequences.txt") == {1: [10, 20, 30, 40], 2: [30, 10]}


def test_fingerprint_by_hand():
    data = D.sequence_data("x", {7: [30, 10, 20], 3: [10, 20, 30]}, min_item_count=1)
    text = "3 10 20 30\n7 30 10 20\n"  # users in increasing id, original ids in order
    assert data.fingerprint() == hashlib.sha256(text.encode()).hexdigest()
    reordered = D.sequence_data("x", {7: [10, 30, 20], 3: [10, 20, 30]}, min_item_count=1)
    assert reordered.fingerprint() != data.fingerprint()


def test_shuffled_split_keeps_targets_and_films_but_not_order():
    data = D.sequence_data("x", {u: list(range(1, 41)) for u in range(1, 6)}, min_item_count=1)
    timed, shuffled = data.split(), data.split("shuffled")
    assert torch.equal(timed.test_target, shuffled.test_target)
    assert torch.equal(timed.valid_target, shuffled.valid_target)
    for a, b in zip(
        timed.train + timed.test_input, shuffled.train + shuffled.test_input, strict=True
    ):
        assert sorted(a) == sorted(b) and a != b
    assert data.split("shuffled").train == shuffled.train  # fixed by the seed
    with pytest.raises(ValueError, match="order"):
        data.split("reversed")


def test_item_vectors_leave_the_callers_random_state_alone():
    data = D.sequence_data("x", {u: [1, 2, 3, u % 4 + 4] for u in range(1, 30)}, min_item_count=1)
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    vecs = D.item_vectors(data, dim=2)
    assert torch.equal(torch.rand(2), expected)
    assert torch.equal(vecs, D.item_vectors(data, dim=2))


# ----------------------------------------------------------------------------- MovieLens 20M

ML20M_CSV = (
    "userId,movieId,rating,timestamp\n"
    "1,30,3.5,300\n1,10,4.0,100\n1,20,5.0,300\n1,40,0.5,300\n"
    "2,30,1.0,7\n2,10,2.5,7\n10,50,3.0,9\n"
)


def test_ml20m_csv_is_parsed_in_chunks_with_ties_in_file_order(tmp_path):
    folder = tmp_path / "ml-20m"
    folder.mkdir()
    (folder / "ratings.csv").write_text(ML20M_CSV)
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n10,"American President, The (1995)",Comedy\n20,Heat (1995),Action\n'
    )
    assert D.fetch("ml-20m", tmp_path, download=False) == folder
    assert D.read_sequences(folder / "sequences.txt") == {
        1: [10, 30, 20, 40],
        2: [30, 10],
        10: [50],
    }
    assert D.load_titles("ml-20m", tmp_path)[10] == "American President, The (1995)"
    small = D.csv_sequences(folder / "ratings.csv", tmp_path / "again.txt", chunk_rows=2)
    assert (
        small == 7
        and (tmp_path / "again.txt").read_text() == (folder / "sequences.txt").read_text()
    )


def test_ml20m_zip_with_its_hash_is_extracted_and_parsed(tmp_path, monkeypatch):
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as zf:
        zf.writestr("ml-20m/ratings.csv", ML20M_CSV)
    (tmp_path / "ml-20m.zip").write_bytes(payload.getvalue())
    src = D.SOURCES["ml-20m"]
    md5 = hashlib.md5(payload.getvalue()).hexdigest()
    monkeypatch.setitem(
        D.SOURCES, "ml-20m", D.Source(src.url, md5, src.ratings, ",", src.titles, ",")
    )
    data = D.load_movielens("ml-20m", min_item_count=1, home=tmp_path, download=False)
    # users 2 and 10 have fewer than 3 ratings: no split is possible, they are dropped
    assert data.num_users == 1 and data.num_interactions == 4


@pytest.mark.parametrize("damage", ["truncated csv", "truncated zip", "wrong hash"])
def test_ml20m_damaged_files_fail_clearly_and_leave_nothing(tmp_path, monkeypatch, damage):
    payload = io.BytesIO()
    body = ML20M_CSV * 50
    if damage == "truncated csv":
        body = body[: len(body) // 2 - 3]  # cut inside a row
    with zipfile.ZipFile(payload, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-20m/ratings.csv", body)
    raw = payload.getvalue()
    if damage == "truncated zip":
        raw = raw[: len(raw) - 40]
    (tmp_path / "ml-20m.zip").write_bytes(raw)
    src = D.SOURCES["ml-20m"]
    md5 = "0" * 32 if damage == "wrong hash" else hashlib.md5(raw).hexdigest()
    monkeypatch.setitem(
        D.SOURCES, "ml-20m", D.Source(src.url, md5, src.ratings, ",", src.titles, ",")
    )
    with pytest.raises(D.DataError) as err:
        D.fetch("ml-20m", tmp_path, download=False)
    assert {"truncated csv": "cannot parse", "truncated zip": "not a readable zip",
            "wrong hash": "corrupt"}[damage] in str(err.value)  # fmt: skip
    left = (
        [p.name for p in (tmp_path / "ml-20m").glob("*")] if (tmp_path / "ml-20m").exists() else []
    )
    assert "sequences.txt" not in left and not [n for n in left if n.endswith(".tmp")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp")], (
        "no half-extracted folder"
    )
