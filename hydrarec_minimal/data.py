"""MovieLens for sequential recommendation: download (hash-checked), parse once, split.

A data home holds one folder per data set, named as GroupLens names it (``ml-100k/``,
``ml-1m/``), with either the official files (``u.data``, ``ratings.dat``, ...) or a
``sequences.txt``: one line per user, ``UserID MovieID MovieID ...`` in time order, original
ids. ``sequences.txt`` is also what the package writes after parsing the official files, so
parsing happens once. The home is ``$HYDRAREC_DATA`` when set, else the user's cache folder.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "HYDRAREC_DATA"
ORDERS = ("time", "shuffled")  # a history in time order, or its films randomly permuted
GROUPLENS = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class Source:
    """Where a MovieLens release comes from and how its ratings file is written."""

    url: str
    md5: str
    ratings: str  # the ratings file inside the extracted folder
    sep: str
    titles: str  # the movie-titles file
    titles_sep: str


SOURCES = {
    "ml-100k": Source(
        f"{GROUPLENS}/ml-100k.zip",
        "0e33842e24a9c977be4e0107933c0723",
        "u.data",
        "\t",
        "u.item",
        "|",
    ),
    "ml-1m": Source(
        f"{GROUPLENS}/ml-1m.zip",
        "c4d9eecfca2ab87c1945afe126590906",
        "ratings.dat",
        "::",
        "movies.dat",
        "::",
    ),
    # 138,493 users, 20 million ratings: its ratings.csv is parsed in chunks (csv_sequences)
    "ml-20m": Source(
        f"{GROUPLENS}/ml-20m.zip",
        "cd245b17a1ae2cc31bb14903e1204af3",
        "ratings.csv",
        ",",
        "movies.csv",
        ",",
    ),
}


class DataError(RuntimeError):
    """A data set is missing, corrupt or cannot be fetched; the message says what to do."""


# ----------------------------------------------------------------------------- locations


def data_home(home: str | os.PathLike | None = None) -> Path:
    """The data home: ``home`` if given, else ``$HYDRAREC_DATA``, else the user cache folder."""
    if home is not None:
        return Path(home)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    import pooch  # only needed to find the platform's cache folder and to download

    return Path(pooch.os_cache("hydrarec"))


def _source(name: str) -> Source:
    """The Source of a data set name, or a clear error listing the known ones."""
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(SOURCES)}")
    return SOURCES[name]


def md5sum(path: Path) -> str:
    """The md5 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- fetching


def download_zip(name: str, home: Path, url: str | None = None) -> Path:
    """Download a data set's official zip into ``home`` and check its md5 (via pooch).

    pooch downloads to a temporary file and keeps it only if the hash matches, so a corrupt
    or truncated download never leaves a file a later run would trust; a cached zip whose
    hash does not match is downloaded again.
    """
    import pooch

    src = _source(name)
    home.mkdir(parents=True, exist_ok=True)
    target = home / f"{name}.zip"
    try:
        path = pooch.retrieve(
            url or src.url,
            known_hash=f"md5:{src.md5}",
            fname=target.name,
            path=home,
            progressbar=False,
        )
    except ValueError as e:  # pooch's hash mismatch
        raise DataError(
            f"{name}.zip from {url or src.url} failed its hash check ({e}). "
            f"Expected md5 {src.md5}. Nothing was kept; try again, or put the official "
            f"{name}.zip (or its extracted folder) in {home}."
        ) from e
    except Exception as e:  # no network, HTTP error, ...
        raise DataError(
            f"could not download {name} from {url or src.url} ({type(e).__name__}: {e}). "
            f"Without network, put the official {name}.zip or its extracted folder "
            f"'{name}/' (with {src.ratings}, or a sequences.txt) in {home}, "
            f"or point ${ENV_VAR} at a folder that has it."
        ) from e
    return Path(path)


def safe_extract(zip_path: Path, target: Path) -> None:
    """Extract a zip into ``target``, refusing any member that would land outside it. The
    zip is unpacked into a temporary folder first and moved into place only when every
    member was read whole (a corrupt zip leaves nothing behind)."""
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                for member in zf.infolist():
                    dest = (target / member.filename).resolve()
                    if dest != target and target not in dest.parents:
                        raise DataError(
                            f"{zip_path}: member {member.filename!r} would extract outside {target}"
                        )
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataError(
                f"{zip_path} is not a readable zip ({e}); delete it and download again"
            ) from e
        for top in Path(tmp).iterdir():
            if not (target / top.name).exists():
                top.replace(target / top.name)


def fetch(name: str, home: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Make sure ``<home>/<name>/sequences.txt`` exists and return the data set's folder.

    Order: an existing ``sequences.txt``; else the official ratings file, parsed once; else
    a hash-checked ``<name>.zip`` in the home; else a download from GroupLens.
    """
    src = _source(name)
    root = data_home(home)
    folder = root / name
    seq_file = folder / "sequences.txt"
    if seq_file.exists():
        return folder
    if not (folder / src.ratings).exists():
        zip_path = root / f"{name}.zip"
        if zip_path.exists() and md5sum(zip_path) != src.md5:
            if not download:
                raise DataError(
                    f"{zip_path} is corrupt: md5 {md5sum(zip_path)}, expected {src.md5}. "
                    "Delete it and download again."
                )
            zip_path.unlink()
        if not zip_path.exists():
            if not download:
                raise DataError(
                    f"{name} not found in {root}: put the official {name}.zip or the extracted "
                    f"'{name}/' folder there (or set ${ENV_VAR})."
                )
            zip_path = download_zip(name, root)
        safe_extract(zip_path, root)
        if not (folder / src.ratings).exists():
            raise DataError(f"{zip_path} holds no {name}/{src.ratings}")
    if src.ratings.endswith(".csv"):  # ML-20M: too large for Python lists, parsed in chunks
        csv_sequences(folder / src.ratings, seq_file)
    else:
        rows = read_ratings(folder / src.ratings, src.sep)
        write_sequences(seq_file, chronological_sequences(rows))
    return folder


# ----------------------------------------------------------------------------- parsing


def read_ratings(path: Path, sep: str) -> list[tuple[int, int, int]]:
    """(user, movie, timestamp) for every line of an official ratings file, in file order."""
    rows = []
    with open(path, encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(sep)
            try:
                rows.append((int(parts[0]), int(parts[1]), int(parts[3])))
            except (IndexError, ValueError) as e:
                raise DataError(f"{path}:{lineno}: cannot parse {line.strip()!r}") from e
    return rows


def csv_sequences(path: Path, out: Path, chunk_rows: int = 2_000_000) -> int:
    """Parse a ratings.csv (``userId,movieId,rating,timestamp`` with a header, MovieLens
    20M's format) in chunks into ``out`` as sequences.txt: each user's films by timestamp,
    ties in file order, like ``chronological_sequences``. Three int columns in numpy arrays,
    never 20 million Python objects; written to a temporary file and renamed, so an error
    leaves nothing behind. Returns the number of ratings."""
    import pandas as pd

    columns = {"userId": "int64", "movieId": "int64", "timestamp": "int64"}
    parts = {k: [] for k in columns}
    try:
        reader = pd.read_csv(path, usecols=list(columns), chunksize=chunk_rows)
        for chunk in reader:
            if chunk.isna().any().any():
                raise ValueError("a row has a missing or unreadable field")
            for k in columns:
                parts[k].append(chunk[k].to_numpy(dtype="int64"))
    except (ValueError, KeyError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: cannot parse as userId,movieId,rating,timestamp ({e})") from e
    if not parts["userId"]:
        raise DataError(f"{path}: no ratings in it")
    user, movie, time = (np.concatenate(parts[k]) for k in columns)
    del parts
    order = np.lexsort((time, user))  # by user, then time; lexsort is stable: file order
    user, movie = user[order], movie[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    ends = np.r_[starts[1:], len(user)]
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            f.write(f"{user[a]} " + " ".join(map(str, movie[a:b].tolist())) + "\n")
    tmp.replace(out)
    return len(user)


def chronological_sequences(rows: list[tuple[int, int, int]]) -> dict[int, list[int]]:
    """Each user's movies sorted by timestamp; ties keep file order (a stable sort)."""
    by_user: dict[int, list[tuple[int, int]]] = {}
    for user, movie, ts in rows:
        by_user.setdefault(user, []).append((ts, movie))
    return {
        u: [m for _, m in sorted(items, key=lambda x: x[0])] for u, items in sorted(by_user.items())
    }


def write_sequences(path: Path, sequences: dict[int, list[int]]) -> None:
    """Write ``UserID MovieID ...`` lines atomically (temporary file, then rename)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for user, items in sequences.items():
            f.write(" ".join(map(str, [user, *items])) + "\n")
    tmp.replace(path)


def read_sequences(path: Path) -> dict[int, list[int]]:
    """Read a ``sequences.txt`` back into {user: [movie, ...]}."""
    out = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            ids = line.split()
            if not ids:
                continue
            try:
                out[int(ids[0])] = [int(x) for x in ids[1:]]
            except ValueError as e:
                raise DataError(f"{path}:{lineno}: not 'UserID MovieID ...': {line[:80]!r}") from e
    return out


def load_titles(name: str, home: str | os.PathLike | None = None) -> dict[int, str]:
    """{MovieID: title} from the official titles file, or {} when it is not at hand."""
    src = _source(name)
    path = data_home(home) / name / src.titles
    if not path.exists():
        return {}
    if src.titles.endswith(".csv"):  # movieId,title,genres with a header; titles may be quoted
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.reader(f)
            next(rows, None)
            return {int(r[0]): r[1] for r in rows if len(r) >= 2}
    titles = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            parts = line.rstrip("\r\n").split(src.titles_sep)
            if len(parts) >= 2:
                titles[int(parts[0])] = parts[1]
    return titles


# ----------------------------------------------------------------------------- the data set


@dataclass
class SequenceData:
    """Per-user chronological item sequences, items remapped to 1..num_items (0 = padding)."""

    name: str
    sequences: list[list[int]]  # one list per user, dense item ids
    users: list[int]  # original UserID of each sequence
    movie_ids: list[int]  # movie_ids[i - 1] is the original MovieID of dense item i
    counts: torch.Tensor = field(repr=False)  # (num_items + 1,) ratings per item, [0] = 0

    @property
    def num_users(self) -> int:
        """Number of users (sequences)."""
        return len(self.sequences)

    @property
    def num_items(self) -> int:
        """Number of distinct items; ids run 1..num_items."""
        return len(self.movie_ids)

    @property
    def num_interactions(self) -> int:
        """Total number of ratings kept."""
        return sum(len(s) for s in self.sequences)

    def lengths(self) -> torch.Tensor:
        """Length of every user's sequence."""
        return torch.tensor([len(s) for s in self.sequences])

    def summary(self) -> dict:
        """What a result records of its data: name, sizes and the fingerprint of its order."""
        return {
            "name": self.name,
            "users": self.num_users,
            "items": self.num_items,
            "interactions": self.num_interactions,
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """sha256 of the filtered sequences as text (``UserID MovieID ...`` per line, users in
        increasing id, original ids): two runs compare only if their data print the same."""
        h = hashlib.sha256()
        for user, seq in sorted(zip(self.users, self.sequences, strict=True)):
            ids = [user, *(self.movie_ids[i - 1] for i in seq)]
            h.update((" ".join(map(str, ids)) + "\n").encode())
        return h.hexdigest()

    def split(self, order: str = "time", seed: int = 0) -> Split:
        """Leave-one-out: last item of each user for test, second to last for validation.

        ``order="shuffled"`` keeps every target and every history's films but destroys their
        order: each user's training history, and separately the test input (the training
        history plus the validation film), are randomly permuted (fixed ``seed``). A model
        that learns the same from it owes nothing to order."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        train = [s[:-2] for s in self.sequences]
        test_input = [s[:-1] for s in self.sequences]
        if order == "shuffled":
            g = torch.Generator().manual_seed(seed)
            train = [[s[i] for i in torch.randperm(len(s), generator=g)] for s in train]
            test_input = [[s[i] for i in torch.randperm(len(s), generator=g)] for s in test_input]
        return Split(
            train=train,
            valid_input=train,
            valid_target=torch.tensor([s[-2] for s in self.sequences]),
            test_input=test_input,
            test_target=torch.tensor([s[-1] for s in self.sequences]),
        )


@dataclass
class Split:
    """A leave-one-out split: training sequences and (input, target) pairs for evaluation."""

    train: list[list[int]]
    valid_input: list[list[int]]
    valid_target: torch.Tensor
    test_input: list[list[int]]
    test_target: torch.Tensor


def sequence_data(
    name: str, raw: dict[int, list[int]], min_item_count: int = 5, min_user_len: int = 3
) -> SequenceData:
    """Drop items with fewer than ``min_item_count`` ratings (one pass, as SASRec/BERT4Rec),
    then users left with fewer than ``min_user_len`` (a split needs 3), and remap item ids."""
    lengths = np.array([len(items) for items in raw.values()], dtype=np.int64)
    flat = [m for items in raw.values() for m in items]
    items = np.array(flat, dtype=np.int64) if flat else np.zeros(0, dtype=np.int64)
    return array_sequence_data(name, np.array(list(raw), dtype=np.int64), lengths, items,
                               min_item_count, min_user_len)  # fmt: skip


def array_sequence_data(
    name: str,
    users: np.ndarray,
    lengths: np.ndarray,
    items: np.ndarray,
    min_item_count: int = 5,
    min_user_len: int = 3,
) -> SequenceData:
    """``sequence_data`` on flat arrays (each user's id, history length, and all histories
    one after the other): numpy does the filtering and counting, so MovieLens 20M's 20
    million ratings load in seconds."""
    counts = np.bincount(items) if len(items) else np.zeros(1, dtype=np.int64)
    kept_item = counts[items] >= min_item_count
    owner = np.repeat(np.arange(len(users)), lengths)
    kept_len = np.bincount(owner[kept_item], minlength=len(users))
    kept_user = kept_len >= min_user_len
    keep = kept_item & kept_user[owner]
    movie_ids = np.unique(items[keep])
    dense = np.searchsorted(movie_ids, items[keep]) + 1
    bounds = np.cumsum(kept_len[kept_user])[:-1]
    sequences = [s.tolist() for s in np.split(dense, bounds)] if len(dense) else []
    item_counts = torch.from_numpy(np.bincount(dense, minlength=len(movie_ids) + 1))
    return SequenceData(name, sequences, users[kept_user].tolist(), movie_ids.tolist(),
                        item_counts.long())  # fmt: skip


def read_sequence_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``sequences.txt`` as flat arrays (user ids, history lengths, all items), parsed by
    numpy; a malformed file is read again line by line, for an error that names the line."""
    text = path.read_text()
    tokens = [line.count(" ") + 1 for line in text.splitlines() if line.strip()]
    flat = np.fromstring(text, dtype=np.int64, sep=" ") if tokens else np.zeros(0, np.int64)
    if len(flat) != sum(tokens) or any(" " * 2 in line for line in text.splitlines()):
        raw = read_sequences(path)  # raises DataError with the line, or parses the odd spacing
        lengths = np.array([len(v) for v in raw.values()], dtype=np.int64)
        items = np.array([m for v in raw.values() for m in v], dtype=np.int64)
        return np.array(list(raw), dtype=np.int64), lengths, items
    starts = np.cumsum([0, *tokens[:-1]])
    users = flat[starts]
    lengths = np.array(tokens, dtype=np.int64) - 1
    items = np.delete(flat, starts)
    return users, lengths, items


def load_movielens(
    name: str = "ml-1m",
    min_item_count: int = 5,
    home: str | os.PathLike | None = None,
    download: bool = True,
) -> SequenceData:
    """Load MovieLens ('ml-100k', 'ml-1m' or 'ml-20m') as chronological per-user item
    sequences."""
    folder = fetch(name, home, download)
    users, lengths, items = read_sequence_arrays(folder / "sequences.txt")
    return array_sequence_data(name, users, lengths, items, min_item_count)


# ----------------------------------------------------------------------------- batching


def pad_left(sequences: list[list[int]], max_len: int, pad: int = 0) -> torch.Tensor:
    """(N, max_len) long tensor: the last ``max_len`` items of each sequence, left-padded."""
    out = torch.full((len(sequences), max_len), pad, dtype=torch.long)
    for i, s in enumerate(sequences):
        s = s[-max_len:]
        if s:
            out[i, max_len - len(s) :] = torch.tensor(s)
    return out


def item_vectors(data: SequenceData, dim: int = 16, seed: int = 0) -> torch.Tensor:
    """(num_items + 1, dim) item vectors from who rated what: a rank-``dim`` truncated SVD of
    the user x item matrix, items scaled by the singular values (row 0, padding, is zero).
    Movies rated by the same people get similar vectors; no training involved."""
    x = torch.zeros(data.num_users, data.num_items + 1)
    for u, s in enumerate(data.sequences):
        x[u, s] = 1.0
    with torch.random.fork_rng():  # svd_lowrank draws a random start; the caller's RNG stays
        torch.manual_seed(seed)
        _, sing, v = torch.svd_lowrank(x, q=dim + 8, niter=4)
    vecs = v[:, :dim] * sing[:dim].sqrt()
    vecs[0] = 0.0
    return vecs
