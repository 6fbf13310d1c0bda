"""Vectors from an OpenAI-compatible endpoint, kept on disk so that benchmark runs reuse them.

A slow measuring model (a few texts a second) makes every text worth embedding once: each vector is
stored by model and SHA-256 of its text in ``$SENTINEL_BENCH_CACHE`` (default
``~/.cache/sentinel-db-bench``), one JSON line per text, appended as batches arrive so an
interrupted run keeps what it had.

    .venv/bin/python bench/embedding_cache.py --embedding-url http://127.0.0.1:8765/v1 [--shared-data DIR]
        # embeds every row text variant and question the quality benchmark asks, ahead of time
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16


def cache_dir() -> Path:
    """Where the vectors are kept."""
    return Path(
        os.environ.get("SENTINEL_BENCH_CACHE", Path.home() / ".cache" / "sentinel-db-bench")
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors of one model by text, read from and appended to one file."""

    def __init__(self, url: str, model: str) -> None:
        self.url = url.rstrip("/")
        self.model = model
        safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in model)
        self.path = cache_dir() / f"{safe}.jsonl"
        self.vectors: dict[str, list[float]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    self.vectors[item["sha256"]] = item["embedding"]

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> list[list[float]]:
        """The vector of each text, asking the endpoint only for those not cached yet."""
        missing = sorted({_digest(t): t for t in texts if _digest(t) not in self.vectors}.items())
        if missing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with httpx.Client(timeout=600) as client, self.path.open("a", encoding="utf-8") as out:
                for start in range(0, len(missing), BATCH):
                    batch = missing[start : start + BATCH]
                    response = client.post(
                        f"{self.url}/embeddings",
                        json={"model": self.model, "input": [t for _, t in batch]},
                    )
                    response.raise_for_status()
                    data = sorted(response.json()["data"], key=lambda d: d["index"])
                    for (sha, _), item in zip(batch, data, strict=True):
                        self.vectors[sha] = item["embedding"]
                        out.write(
                            json.dumps({"sha256": sha, "embedding": item["embedding"]}) + "\n"
                        )
                    out.flush()
                    if progress:
                        done = min(start + BATCH, len(missing))
                        print(f"  embedded {done}/{len(missing)}", file=sys.stderr)
        return [self.vectors[_digest(t)] for t in texts]


def row_texts(folder: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Per table, per text variant, the text of each row key (see ``embedding_text``)."""
    from sentinel_db.records.embeddings import embedding_text

    found: dict[str, dict[str, dict[str, str]]] = {"controls": {}, "rules": {}}
    for table, name, key in (
        ("controls", "pci_dss_controls.csv", "control_id"),
        ("rules", "aws_config_rules_guidance.csv", "config_rule"),
    ):
        path = next(folder.rglob(name))
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        parent = "pci_dss_controls" if table == "controls" else "aws_config_rules_guidance"
        for variant in ("chunk", "context"):
            found[table][variant] = {
                r[key]: embedding_text(parent, r, variant=variant) for r in rows
            }
    return found


def main(argv: list[str] | None = None) -> int:
    """Embed ahead of time everything the quality benchmark will ask for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding-url", required=True)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--shared-data", type=Path, default=os.environ.get("SENTINEL_TEST_SHARED_DATA")
    )
    args = parser.parse_args(argv)
    cache = EmbeddingCache(args.embedding_url, args.model)
    texts: list[str] = []
    for name in ("search_questions.json", "search_questions_everyday.json"):
        path = ROOT / "bench" / name
        if path.is_file():
            texts += [q["question"] for q in json.loads(path.read_text(encoding="utf-8"))]
    folders = [ROOT / "src" / "sentinel_db" / "sample_data"]
    if args.shared_data:
        folders.append(Path(args.shared_data))
    for folder in folders:
        for variants in row_texts(folder).values():
            for by_key in variants.values():
                texts += list(by_key.values())
    cache.embed(texts, progress=True)
    print(f"{len(set(texts))} texts cached in {cache.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
