"""imagededup's dHash ``find_duplicates`` against dedupkit on the same folder, in one run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_peer.py --install          # 300 generated 1080p photos
    .venv/bin/python benchmarks/bench_peer.py --folder DIR       # your own images

imagededup is never a dependency of dedupkit. Its normal install pulls a
multi-GB torch, which its hashing never uses, so ``--install`` puts it (with
``pip install --no-deps --target``) into a folder of its own (default: in the
system's temp dir) that only this script adds to ``sys.path``. Its package
imports torch, torchvision and scikit-learn at import time (for its CNN
method); when they are missing, this script puts tiny stand-in modules for them
into ``sys.modules`` before importing it. Its hashing path (PIL, numpy, pywt,
scipy) runs for real.

Both sides run on all cores from a cold start, timed end to end: imagededup's
``DHash().find_duplicates(image_dir=..., max_distance_threshold=10)`` (its
default search, brute force in Cython, and its default worker counts) against
``dedupkit.find_pairs(dedupkit.hash_images(folder), max_distance=10)``. Both
compute a 64-bit dHash (9x8 greyscale difference hash); the script also
reports how many of the pairs each found agree.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hash import machine, photo_like, uptime  # noqa: E402

import dedupkit  # noqa: E402

PEER_DIR = Path(tempfile.gettempdir()) / "dedupkit-peer-packages"


# -- imagededup without torch ------------------------------------------------
class _StubMeta(type):
    def __getattr__(cls, name):  # Weights.IMAGENET1K_V1.transforms(), ...
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub


class _Stub(metaclass=_StubMeta):
    """Stands for any torch/torchvision/sklearn object at import time; never used for hashing."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Stub()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub


def install_stand_ins() -> list[str]:
    """Put stand-ins for the modules imagededup imports but its hashing never uses; return their names."""
    groups = {
        "torch": ["torch", "torch.nn", "torch.utils", "torch.utils.data"],
        "torchvision": ["torchvision", "torchvision.models", "torchvision.transforms",
                        "torchvision.models.vision_transformer"],
        "sklearn": ["sklearn", "sklearn.metrics", "sklearn.metrics.pairwise"],
    }
    added = []
    for top, names in groups.items():
        try:
            importlib.import_module(top)
            continue  # the real one is there
        except ImportError:
            pass
        for name in names:
            module = _StubModule(name)
            module.__path__ = []  # a package, so that submodules import
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
        added.append(top)
    return added


def import_imagededup(install: bool, target: Path):
    if target.exists():
        sys.path.insert(0, str(target))
    try:
        importlib.import_module("imagededup")
    except ImportError:
        if not install:
            raise SystemExit(f"imagededup is not installed: run with --install (puts it in {target})") from None
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                        "imagededup"], check=True)
        sys.path.insert(0, str(target))
    stand_ins = install_stand_ins()
    import imagededup  # noqa: PLC0415
    from imagededup.methods import DHash  # noqa: PLC0415

    for name in list(logging.root.manager.loggerDict):  # its progress messages, on stderr
        if name.startswith("imagededup"):
            logging.getLogger(name).setLevel(logging.WARNING)

    return DHash, imagededup.__version__, stand_ins


# -- data ----------------------------------------------------------------------
def make_folder(folder: Path, count: int) -> Path:
    """``count`` seeded 1920x1080 photo-like JPEGs; every 10th has a re-encoded and a half-size copy."""
    from PIL import Image  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"photo_{i:04d}.jpg"
        if path.exists():
            continue
        image = photo_like(1920, 1080, seed=7_000_000 + i)
        image.save(path, quality=90)
        if i % 10 == 0:
            image.save(folder / f"photo_{i:04d}__q60.jpg", quality=60)
            image.resize((960, 540), Image.Resampling.LANCZOS).save(folder / f"photo_{i:04d}__half.jpg", quality=90)
    return folder


def _pair_set_imagededup(duplicates: dict) -> set[tuple[str, str]]:
    return {tuple(sorted((a, b))) for a, others in duplicates.items() for b in others}


def _pair_set_dedupkit(pairs) -> set[tuple[str, str]]:
    a, b = pairs.columns[:2]
    return {tuple(sorted((Path(x).name, Path(y).name))) for x, y in zip(pairs[a], pairs[b])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folder", type=Path, help="images to compare on (flat folder, as imagededup reads it)")
    parser.add_argument("--count", type=int, default=300, help="generated 1080p photos (default %(default)s)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-peer")
    parser.add_argument("--install", action="store_true", help="pip-install imagededup (no deps) for this script")
    parser.add_argument("--target", type=Path, default=PEER_DIR, help="where --install puts imagededup")
    parser.add_argument("--max-distance", type=int, default=10)
    args = parser.parse_args(argv)

    DHash, version, stand_ins = import_imagededup(args.install, args.target)
    folder = args.folder or make_folder(args.data / f"fullhd_{args.count}", args.count)
    files, _ = dedupkit.list_images(folder)
    n = len(files)
    print("# imagededup against dedupkit (dHash, 64 bits, all cores)\n")
    print(f"machine: {machine()}")
    print(f"imagededup {version} (stand-ins for: {', '.join(stand_ins) or 'none'}); dedupkit {dedupkit.__version__}")
    print(f"folder: {folder} ({n} images)")
    print(f"uptime: {uptime()}\n")

    # the page cache is warmed for both alike
    for path in files:
        Path(path).read_bytes()

    start = time.perf_counter()
    duplicates = DHash(verbose=False).find_duplicates(image_dir=folder, max_distance_threshold=args.max_distance)
    peer_s = time.perf_counter() - start

    start = time.perf_counter()
    hashes = dedupkit.hash_images(folder, progress=False)
    hash_s = time.perf_counter() - start
    pairs = dedupkit.find_pairs(hashes, max_distance=args.max_distance)
    ours_s = time.perf_counter() - start

    peer_pairs, our_pairs = _pair_set_imagededup(duplicates), _pair_set_dedupkit(pairs)
    print("| tool | seconds | images/s | pairs within 10 bits |")
    print("|---|---|---|---|")
    print(f"| imagededup DHash.find_duplicates | {peer_s:.2f} | {n / peer_s:.1f} | {len(peer_pairs)} |")
    print(f"| dedupkit hash_images + find_pairs | {ours_s:.2f} | {n / ours_s:.1f} | {len(our_pairs)} |")
    print(f"\ndedupkit is {peer_s / ours_s:.1f}x faster end to end (hashing alone: {hash_s:.2f} s, "
          f"{n / hash_s:.1f} images/s).")
    both = peer_pairs & our_pairs
    print(f"pairs found by both: {len(both)}; only imagededup: {len(peer_pairs - our_pairs)}; "
          f"only dedupkit: {len(our_pairs - peer_pairs)}")
    for a, b in sorted(peer_pairs ^ our_pairs)[:10]:
        print(f"  differs: {a} ~ {b}")
    print(f"\nuptime: {uptime()}")
    return 0


if __name__ == "__main__":
    if os.environ.get("OMP_NUM_THREADS") is None:
        os.environ["OMP_NUM_THREADS"] = "1"  # neither side needs BLAS threads
    raise SystemExit(main())
