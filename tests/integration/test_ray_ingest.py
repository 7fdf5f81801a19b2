"""Cluster ingest on a real local Ray cluster: the same index as a local ingest, retries after a
killed worker, nothing re-embedded on a re-run, and the work-unit plan read exactly like
``iter_documents`` (that part needs no Ray)."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.records import Document
from rag.distributed.compare import differences, max_vector_difference, read_contents
from rag.distributed.units import plan_units, read_unit
from rag.ingest import IngestReport
from rag.loaders import LoadFailure, iter_documents
from rag.settings import Settings
from rag.system import QASystem, encoder_folder, ingest_options
from rag.tokens import TiktokenCounter
from tests.index_folders import link_encoder

COUNTRIES = ["Sweden", "Japan", "Ukraine", "Finland", "Norway", "Estonia", "Poland", "Canada"]
TOPICS = ["maritime security", "defence procurement", "sanctions", "cyber defence", "energy"]
VERBS = ["signed", "announced", "discussed", "postponed", "expanded", "reviewed"]
ITEMS = ["an agreement", "a joint exercise", "a loan", "new export rules", "a summit"]
QUESTIONS = [
    "When did Sweden sign an agreement on maritime security?",
    "Who announced a joint exercise with Japan?",
    "What did Finland discuss about energy?",
    "How many delegates attended the summit in Poland?",
    "Why did Norway postpone the loan?",
]
#: Good documents in the shared corpus of the Ray tests, and how many of them are text files
#: (``make_corpus`` puts a sixth in ``notes/``): enough for several work units, shard ranges and
#: commits, few enough to embed quickly several times over.
N_DOCS = 60
N_NOTES = N_DOCS // 6
#: The byte ranges JSONL shards are cut into: three per shard at this size.
RANGE_BYTES = 4 * 1024


def _sentence(rng: random.Random) -> str:
    a, b = rng.sample(COUNTRIES, 2)
    year = rng.randint(1995, 2024)
    return (
        f"In {year}, {a} {rng.choice(VERBS)} {rng.choice(ITEMS)} with {b} on "
        f"{rng.choice(TOPICS)}, and {rng.randint(2, 90)} delegates attended."
    )


def _text(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def make_corpus(root: Path, documents: int = N_DOCS, seed: int = 7) -> list[Path]:
    """A "shared storage" folder: two JSONL shards (one bad record, one empty shard) and a
    folder of text files; ``documents`` good documents in all."""
    rng = random.Random(seed)
    shards = root / "shards"
    shards.mkdir(parents=True)
    n_txt = documents // 6
    per_shard = (documents - n_txt) // 2
    made = 0
    for s in range(2):
        lines = []
        count = per_shard if s == 0 else documents - n_txt - per_shard
        for _ in range(count):
            record = {"id": f"rec-{made:04d}", "text": _text(rng), "title": f"Cable {made}"}
            record["date"] = f"{rng.randint(1995, 2024)}-0{rng.randint(1, 9)}"
            lines.append(json.dumps(record))
            made += 1
            if s == 0 and made == 20:
                lines.append('{"id": "broken", "text": ')  # a bad record, reported by line
            if made % 17 == 0:
                lines.append("")  # blank lines count in line numbers
        (shards / f"part-{s:02d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (shards / "part-99.jsonl").write_text("\n\n", encoding="utf-8")  # empty shard
    notes = root / "notes" / "2024"
    notes.mkdir(parents=True)
    for i in range(n_txt):
        (notes / f"note-{i:03d}.txt").write_text(_text(rng) + "\n", encoding="utf-8")
    return [root / "shards", root / "notes"]


def _plain(items: Iterator[Document | LoadFailure] | list[Document | LoadFailure]) -> list[str]:
    return [
        f"F {item}" if isinstance(item, LoadFailure) else f"D {item.id} {item.content_hash}"
        for item in items
    ]


# --- no Ray needed: the plan reads what iter_documents reads ------------------------------------
def test_work_units_read_like_iter_documents(tmp_path: Path) -> None:
    from rag.distributed.ingest import stream_items

    paths = make_corpus(tmp_path / "corpus", documents=60)
    counter = TiktokenCounter()
    options = ingest_options(None, Settings())
    expected = _plain(iter_documents(paths))
    for range_bytes in (1, 700, 10**9):  # one line per range, several, the whole file
        units = list(plan_units(paths, range_bytes=range_bytes, files_per_unit=3))
        results = ((u, read_unit(u, counter, options)) for u in units)
        got = _plain(item for item, _ in stream_items(results))
        assert got == expected, f"range_bytes={range_bytes}"
    assert any(line.startswith("F ") and "empty file" in line for line in expected)
    assert any(line.startswith("F ") and ":22: invalid JSON" in line for line in expected)


def _extra_inputs(root: Path) -> Path:
    """Documents as they really come: another language, hard-wrapped lines, a language given in
    the record, a file type ingest does not read (skipped), a named pipe (refused)."""
    import os

    extra = root / "extra"
    extra.mkdir(parents=True)
    (extra / "fr.txt").write_text(
        "La Suède a rejoint l'OTAN en mars 2024 après une longue période de neutralité. "
        "Le gouvernement a présenté cette adhésion comme une garantie pour la sécurité du pays.\n",
        encoding="utf-8",
    )
    (extra / "wrapped.txt").write_text(
        "In 2022, Japan and Sweden signed an agreement on\nthe transfer of defence equipment and\n"
        "technology, and both governments said the\nagreement would deepen cooperation.\n\n"
        "Officials met again in 2023 to review the\nprogress of the joint projects.\n",
        encoding="utf-8",
    )
    record = {"id": "given-language", "text": "Norway and Finland met in 2021.", "language": "nb"}
    (extra / "given.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (extra / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy word")
    os.mkfifo(extra / "pipe.txt")
    return extra


def test_worker_prepared_documents_build_the_local_index_without_ray(
    onnx_encoder_dir: Path, tmp_path: Path
) -> None:
    """The cluster's item stream (units read as on a worker: chunks and detected language made
    there) driven through :func:`rag.ingest.drive` gives the local ingest's index and events."""
    from rag.distributed.ingest import stream_items
    from rag.ingest import IngestEvent, IngestRun, drive

    paths = [*make_corpus(tmp_path / "corpus", documents=24), _extra_inputs(tmp_path / "corpus")]
    local = _settings(tmp_path / "local" / "index", onnx_encoder_dir)
    local_events: list[IngestEvent] = []
    expected = QASystem.build(local, iter_documents(paths), on_event=local_events.append)
    assert expected.skipped == 1 and expected.failed == 2  # .doc; the empty shard, the pipe

    settings = _settings(tmp_path / "units" / "index", onnx_encoder_dir)
    events: list[IngestEvent] = []
    counter = TiktokenCounter()
    with QASystem.create_or_open(settings, counter=counter) as system:
        options = system.ingest_options()
        units = plan_units(paths, range_bytes=300, files_per_unit=2)
        results = ((u, read_unit(u, counter, options)) for u in units)
        with system.writing() as writer:
            run = IngestRun(writer, system.encoder, counter, options, events.append)
            report = drive(run, stream_items(results))

    def shown(report: IngestReport) -> dict[str, object]:
        return report.model_dump(exclude={"seconds", "prepare_seconds", "embed_seconds"})

    def steady(events: list[IngestEvent]) -> list[IngestEvent]:
        return [e for e in events if e.kind in ("document", "failure", "commit", "embedded")]

    assert shown(report) == shown(expected)
    assert steady(events) == steady(local_events)
    assert differences(local.index_dir, settings.index_dir) == []
    metadata = {d[0]: json.loads(d[4] or "{}") for d in read_contents(settings.index_dir).documents}
    languages = {d: metadata[d].get("language") for d in ("fr.txt", "given-language")}
    languages["rec-0000"] = metadata["rec-0000"].get("language")
    assert languages == {"fr.txt": "fr", "given-language": "nb", "rec-0000": "en"}


def _encoder_folders() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("rag-encoder-*")}


def test_the_default_paths_never_import_ray() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import rag.cli, rag.system, rag.distributed, rag.distributed.ingest; "
        "rag.cli.build_parser(with_plugins=False); assert 'ray' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- real Ray -------------------------------------------------------------------------------------
#: Ray kills a worker process idle for 1 s and starts another for the next task (about 1.5 CPU-s
#: each). This module runs seven ingests on one cluster, pausing between them, so its clusters
#: (and the killed driver's, which inherits the environment) keep idle workers: the module takes
#: 49 s alone instead of 60.
KEEP_IDLE_WORKERS = {"RAY_idle_worker_killing_time_threshold_ms": "600000"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One private local Ray cluster for this module (3 logical CPUs: 2 actors + reads)."""
    ray = pytest.importorskip("ray", reason="the optional extra `ray` is not installed")
    from rag.distributed.ingest import ClusterOptions, connect

    with pytest.MonkeyPatch.context() as patch:
        for name, value in KEEP_IDLE_WORKERS.items():
            patch.setenv(name, value)
        local = Settings(ray_address="local", ray_actors=2)
        _, started = connect(ClusterOptions.from_settings(local, local_object_store_mb=200))
        assert started and ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 3  # 2 actors + read tasks, on a private cluster
        try:
            yield
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_corpus(tmp_path_factory.mktemp("shared"), documents=N_DOCS)


def _settings(index_dir: Path, encoder_dir: Path) -> Settings:
    link_encoder(encoder_dir, encoder_folder(index_dir))
    return Settings(index_dir=index_dir, embed_threads=1, commit_every_chunks=25)


@pytest.fixture(scope="module")
def local_index(
    corpus: list[Path], onnx_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, list[str]]:
    settings = _settings(tmp_path_factory.mktemp("local") / "index", onnx_encoder_dir)
    report = QASystem.build(settings, iter_documents(corpus))
    assert report.added == N_DOCS and report.failed == 2
    return settings, [str(f) for f in report.failures]


def _cluster_ingest(settings: Settings, corpus: list[Path], **overrides: object) -> IngestReport:
    from rag.distributed.ingest import ClusterOptions, build_index_on_cluster

    options = ClusterOptions.from_settings(
        settings, actors=2, range_bytes=RANGE_BYTES, files_per_unit=4, **overrides
    )
    return build_index_on_cluster(settings, corpus, options)


def _answers(settings: Settings) -> list[str]:
    system = QASystem.open(settings)
    try:
        out = []
        for q in QUESTIONS:
            a = system.ask(q)
            cites = [(c.doc_id, c.char_start, c.char_end) for c in a.citations]
            out.append(f"{a.abstained} {a.answer} {cites}")
        return out
    finally:
        system.close()


@pytest.mark.ray
def test_cluster_ingest_builds_the_local_index(
    cluster: None,
    corpus: list[Path],
    local_index: tuple[Settings, list[str]],
    onnx_encoder_dir: Path,
    tmp_path: Path,
) -> None:
    local, local_failures = local_index
    settings = _settings(tmp_path / "index", onnx_encoder_dir)
    folders_before = _encoder_folders()
    report = _cluster_ingest(settings, corpus)
    assert _encoder_folders() <= folders_before  # the actors' encoder files are gone
    assert (report.added, report.failed) == (N_DOCS, 2)
    assert [str(f) for f in report.failures] == local_failures
    assert differences(local.index_dir, settings.index_dir, atol=1e-5) == []
    assert max_vector_difference(local.index_dir, settings.index_dir) <= 1e-5
    assert _answers(settings) == _answers(local)

    again = _cluster_ingest(settings, corpus)  # re-run: content hashes say nothing changed
    assert (again.added, again.updated, again.unchanged) == (0, 0, N_DOCS)
    assert again.chunks == 0 and again.sentences == 0 and again.embed_seconds == 0.0
    assert differences(local.index_dir, settings.index_dir) == []


@pytest.mark.ray
def test_killed_workers_are_retried_and_the_index_is_unchanged(
    cluster: None,
    corpus: list[Path],
    local_index: tuple[Settings, list[str]],
    onnx_encoder_dir: Path,
    tmp_path: Path,
) -> None:
    local, _ = local_index
    settings = _settings(tmp_path / "index", onnx_encoder_dir)
    marker = tmp_path / "crash"
    report = _cluster_ingest(settings, corpus, crash_once_marker=marker)
    # Both a read task and an embedding actor really died (os._exit) once, then were retried.
    assert Path(f"{marker}.read").exists() and Path(f"{marker}.embed").exists()
    assert (report.added, report.failed) == (N_DOCS, 2)
    assert differences(local.index_dir, settings.index_dir) == []


@pytest.mark.ray
def test_a_changed_document_is_the_only_one_embedded_again(
    cluster: None, corpus: list[Path], onnx_encoder_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(corpus[1], notes)
    settings = _settings(tmp_path / "index", onnx_encoder_dir)
    first = _cluster_ingest(settings, [notes])
    assert first.added == N_NOTES
    changed = notes / "2024" / "note-007.txt"
    changed.write_text("In 2025, Sweden signed a new treaty with Japan.\n", encoding="utf-8")
    second = _cluster_ingest(settings, [notes])
    assert (second.added, second.updated, second.unchanged) == (0, 1, N_NOTES - 1)
    assert second.chunks == 1


def _generation(index_dir: Path) -> int:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{index_dir / 'catalog.sqlite'}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


@pytest.mark.ray
def test_a_killed_driver_leaves_a_consistent_index_and_a_rerun_finishes_it(
    cluster: None,
    corpus: list[Path],
    local_index: tuple[Settings, list[str]],
    onnx_encoder_dir: Path,
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    local, _ = local_index
    settings = _settings(tmp_path / "index", onnx_encoder_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "RAY_ADDRESS"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_COMMIT_EVERY_CHUNKS="10")
    cmd = [sys.executable, "-m", "rag.cli", "ingest", *map(str, corpus)]
    cmd += ["--index", str(settings.index_dir), "--ray", "local", "--ray-actors", "1", "-q"]
    driver = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 240
        while _generation(settings.index_dir) < 2 and time.monotonic() < deadline:
            assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
            time.sleep(0.05)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started
        driver.wait(timeout=30)
    committed = _generation(settings.index_dir)
    assert committed >= 2

    with QASystem.open(settings) as system:
        assert system.stats(check=True).problems == []
        counts = system.stats().counts
        assert 0 < counts["documents"] < N_DOCS and counts["vectors"] == counts["chunks"]

    report = _cluster_ingest(settings, corpus)  # the rerun embeds only what was not committed
    assert report.unchanged == counts["documents"] and report.added == N_DOCS - counts["documents"]
    assert differences(local.index_dir, settings.index_dir) == []


@pytest.mark.ray
def test_a_worker_lost_beyond_its_retries_is_a_clear_error(
    cluster: None, corpus: list[Path], onnx_encoder_dir: Path, tmp_path: Path
) -> None:
    from rag.errors import ClusterError

    settings = _settings(tmp_path / "index", onnx_encoder_dir)
    # An index to keep: the run fails before its first document (its first read task is lost),
    # and an index is only created once a document has been read.
    assert QASystem.build(settings, iter_documents([corpus[1]])).added == N_NOTES
    with pytest.raises(ClusterError, match="failed on the cluster") as caught:
        _cluster_ingest(settings, corpus, crash_once_marker=tmp_path / "crash", max_retries=0)
    assert caught.value.hint and "run the same command again" in caught.value.hint
    with QASystem.open(settings) as system:
        assert system.stats(check=True).problems == []
        assert system.stats().documents == N_NOTES
