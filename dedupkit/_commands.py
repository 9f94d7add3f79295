"""The commands of the ``dedupkit`` command line (the parser and ``main`` are in :mod:`dedupkit.cli`)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from pathlib import Path

import pandas as pd

from .bytes_table import is_table_source, rows_of, table_images
from .cache import resolve_cache_path
from .decisions import drop_apart, read_decisions
from .defaults import CANDIDATE_DISTANCE, HASH_ONLY_DISTANCE
from .dihedral import search_dihedral
from .duplicates import find_duplicates
from .export import write_groups, write_pairs
from .groups import find_groups
from .hashing import check_method
from .index import HashIndex
from .plan import with_file_facts
from .scan import hash_images
from .tables import check_output_path, relative_paths, write_table


class CommandError(Exception):
    """A mistake in how the command was called: printed as one line, exit status 2 (by :func:`dedupkit.cli.main`)."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hash(directory: Path, args: argparse.Namespace, *, dihedral: bool = False) -> pd.DataFrame:
    try:
        hashes = hash_images(directory, method=args.method, hash_size=args.hash_size, workers=args.workers,
                             exact=args.exact, progress=False if args.no_progress else None,
                             trim=args.trim, dihedral=dihedral, cache=args.cache,
                             storage_options=storage_options(args), **_table_options(directory, args))
    # a table of the wrong kind; a URL, shard or table that cannot be read
    except (ValueError, TypeError, FileNotFoundError, PermissionError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return hashes


def storage_options(args: argparse.Namespace) -> dict | None:
    """The ``--storage-option KEY=VALUE`` flags as one dict (``None`` without any): a later key wins, dicts merge."""
    given = getattr(args, "storage_options", None)
    if not given:
        return None
    options: dict = {}
    for key, value in given:
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            value = {**options[key], **value}
        options[key] = value
    return options


def _is_table(source: Path, args: argparse.Namespace) -> bool:
    """Whether ``source`` is a table of image bytes: a .parquet file, or a folder of them and no images."""
    known = vars(args).setdefault("_tables", {})  # a folder is looked into once
    if source not in known:
        known[source] = is_table_source(source)
    return known[source]


def _table_options(source: Path, args: argparse.Namespace) -> dict:
    return {"column": args.column or "image", "key": args.key} if _is_table(source, args) else {}


def _shown(table: pd.DataFrame, source: Path, args: argparse.Namespace, columns=("path",)) -> pd.DataFrame:
    """Paths relative to the image folder; a table's keys as they are."""
    return table if _is_table(source, args) else relative_paths(table, source, columns=columns)


def _write(write, table: pd.DataFrame, path: Path, **options) -> None:
    try:
        write(table, path, **options)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write {path}: {exc}") from None


def _report_scan(hashes: pd.DataFrame, directory: Path, out, args: argparse.Namespace) -> None:
    """What the scan found: files, unreadable ones (each with its reason), and what the cache gave."""
    n_errors = int(hashes["error"].notna().sum())
    skipped = len(hashes.attrs.get("skipped", []))
    note = f" ({skipped} other file{'s' * (skipped != 1)} left out by extension)" if skipped else ""
    what = "rows" if _is_table(directory, args) else "files"
    print(f"scanned {len(hashes)} {what} in {directory}{note}: {n_errors} could not be read", file=out)
    if hashes.attrs.get("cached"):
        print(f"  {hashes.attrs['cached']} files taken from the cache, {hashes.attrs['hashed']} hashed", file=out)
    failed = _shown(hashes[hashes["error"].notna()], directory, args)
    for path, error in zip(failed["path"], failed["error"]):
        print(f"  error: {path}: {error}", file=out)


def _check_args(args: argparse.Namespace, outputs: dict[str, Path | None]) -> None:
    """Check the hash options and every file to be written, before the first image is read."""
    try:
        check_method(args.method, args.hash_size)
    except ValueError as exc:
        raise CommandError(f"--method/--hash-size: {exc}") from None
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers must be at least 1, got {args.workers}")
    if args.cache not in (None, False) and _is_table(args.dir, args):
        raise CommandError(f"--cache keeps the hashes of files by path, size and time, and {args.dir} is a table "
                           "whose rows have none: drop --cache")
    if isinstance(args.cache, Path | str):
        outputs = {**outputs, "--cache": resolve_cache_path(args.cache, args.dir)}
    elif args.cache is True and not Path(args.dir).is_dir():  # a URL or shards: no folder to keep it in
        raise CommandError(f"--cache without a path keeps the cache in the scanned folder, and {args.dir} is not "
                           "a local folder: give it a path (--cache hashes-cache.parquet)")
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        if flag != "--cache":
            try:
                check_output_path(path)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{flag}: {exc}") from None
        key = os.path.abspath(path)
        if key in seen:
            raise CommandError(f"{seen[key]} and {flag} both name {path}: give each its own file")
        seen[key] = flag


def _cmd_hash(args: argparse.Namespace, out) -> None:
    _check_args(args, {"-o": args.output})
    hashes = _hash(args.dir, args)
    _write(write_table, _shown(hashes, args.dir, args), args.output)
    _report_scan(hashes, args.dir, out, args)
    print(f"hashes: {args.output}", file=out)


def _group(pairs, hashes, args: argparse.Namespace):
    """The groups, with the keep options given on the command line."""
    return find_groups(pairs, hashes, reference=getattr(args, "reference", None), prefer=getattr(args, "prefer", None),
                       decisions=_decisions(args))


def _decisions(args: argparse.Namespace):
    """The decisions file given with --decisions, read (once per command), or None."""
    if getattr(args, "decisions", None) is None:
        return None
    if not hasattr(args, "_decisions_table"):
        try:
            args._decisions_table = read_decisions(args.decisions)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    return args._decisions_table


def _check_find_args(args: argparse.Namespace, outputs: dict[str, Path | None] | None = None) -> int:
    """Check what can be checked before the first file is read; return the candidate threshold.

    ``outputs`` are the tables to be written, by flag (default: find's ``-o``, ``--groups`` and ``--hashes``).
    """
    if args.crops and not args.verify:
        raise CommandError("--crops proposes pairs that only verification can confirm: drop --no-verify")
    if getattr(args, "against", None) is not None and args.groups is not None:
        raise CommandError("--groups groups the files of one folder; with --against the pairs join two folders: "
                           "drop --groups, or run find on one folder")
    _check_args(args, {"-o": args.output, "--groups": args.groups, "--hashes": args.hashes} if outputs is None
                else outputs)
    default = CANDIDATE_DISTANCE if args.verify else HASH_ONLY_DISTANCE
    max_distance = args.max_distance if args.max_distance is not None else round(default * args.hash_size**2 / 64)
    if max_distance > args.hash_size**2:
        raise CommandError(f"--max-distance must be at most {args.hash_size**2} for {args.hash_size**2}-bit hashes")
    return max_distance


def _cmd_find(args: argparse.Namespace, out) -> None:
    max_distance = _check_find_args(args)
    hashes = _hash(args.dir, args, dihedral=args.dihedral)
    if args.hashes:
        _write(write_table, _shown(hashes, args.dir, args), args.hashes)
    _report_scan(hashes, args.dir, out, args)
    checked = "verified pairs" if args.verify else "pairs"
    if args.against is not None:
        both = _is_table(args.dir, args) and _is_table(args.against, args)
        if both and args.key is None and args.verify:
            raise CommandError("--against with two tables keyed by row number: the same numbers name rows of "
                               "both, so pairs cannot be verified; give --key, a column whose values differ "
                               "between the tables (or --no-verify)")
        reference = _hash(args.against, args)
        shared = set(hashes["path"]) & set(reference["path"]) if both and args.verify else set()
        if shared:
            raise CommandError(f"--against: {len(shared)} keys of --key {args.key} name rows of both tables "
                               f"(e.g. {min(shared)}), so pairs cannot be verified: give a key whose values differ "
                               "between the tables (or --no-verify)")
        index = HashIndex(method=args.method, hash_size=args.hash_size, trim=args.trim, exact=args.exact)
        index.add(reference)
        if args.dihedral:
            matches = search_dihedral(index, hashes, max_distance=max_distance)
        else:
            matches = index.search(hashes, max_distance=max_distance)
        if args.verify:
            from .verify import verify_pairs  # noqa: PLC0415 - OpenCV only when verifying

            asked = matches.rename(columns={"query": "path_a", "match": "path_b"})
            with rows_of(hashes, asked["path_a"].astype(str)), rows_of(reference, asked["path_b"].astype(str)):
                asked = verify_pairs(asked, workers=args.workers, progress=False if args.no_progress else None)
            matches = asked[asked["verified"]].rename(columns={"path_a": "query", "path_b": "match"})
        matches = _shown(matches, args.dir, args, columns=["query"])
        matches = _shown(matches, args.against, args, columns=["match"]).rename(columns={"query": "path"})
        _write(write_table, matches, args.output)
        print(f"indexed {len(index)} reference images in {args.against}", file=out)
        print(f"{matches['path'].nunique()} files in {args.dir} match a reference image "
              f"({len(matches)} {checked} within distance {max_distance}): {args.output}", file=out)
        return
    pairs = find_duplicates(hashes, max_distance=max_distance, verify=args.verify, crops=args.crops,
                            dihedral=args.dihedral, workers=args.workers,
                            progress=False if args.no_progress else None)
    if _decisions(args) is not None:
        pairs = drop_apart(pairs, _decisions(args))
    table = _is_table(args.dir, args)
    groups = _group(pairs, hashes, args) if args.groups else None
    if groups is not None and not table:  # what apply checks a file against; a table's rows are not files
        groups = with_file_facts(groups)
    _write(write_pairs, pairs, args.output, root=None if table else args.dir)
    print(f"{len(pairs)} {checked} within distance {max_distance}: {args.output}", file=out)
    if groups is not None:
        groups = _shown(groups, args.dir, args)
        _write(write_groups, groups, args.groups)
        n_groups = groups["group"].nunique()
        print(f"{n_groups} groups, {int((~groups['keep']).sum())} files could be removed: {args.groups}", file=out)
        if not args.dihedral:  # a turned copy's plain hash is far from the kept file's: diameters do not apply
            _warn_wide_groups(groups, max_distance)


_WIDE_GROUPS_SHOWN = 10


def _warn_wide_groups(groups: pd.DataFrame, max_distance: int) -> None:
    """Name on stderr the groups whose members are further apart than the threshold (widest first)."""
    heads = groups.drop_duplicates("group")
    wide = heads[heads["diameter"] > max_distance].sort_values(["diameter", "group"], ascending=[False, True])
    for row in wide.head(_WIDE_GROUPS_SHOWN).itertuples():
        print(f"dedupkit find: warning: group {row.group} ({row.size} files) has diameter {row.diameter}, wider "
              f"than --max-distance {max_distance}: each file is paired with the kept file {row.path}, but "
              f"not all of them with each other; look before you delete", file=sys.stderr)
    if len(wide) > _WIDE_GROUPS_SHOWN:
        print(f"dedupkit find: warning: ... and {len(wide) - _WIDE_GROUPS_SHOWN} more groups wider than "
              f"--max-distance {max_distance} (see the diameter column)", file=sys.stderr)


def _cmd_report(args: argparse.Namespace, out) -> None:
    from .report import write_report  # noqa: PLC0415

    if args.groups is None:
        if args.pairs is not None or args.hashes is not None:
            raise CommandError("--pairs and --hashes are read with --groups: give the groups CSV too, "
                               "or none of them to scan DIR")
        if args.output.is_dir() or not args.output.parent.is_dir():
            raise CommandError(f"-o: {args.output} must be a file in a folder that exists")
        max_distance = _check_find_args(args, outputs={})
        hashes = _hash(args.dir, args)
        pairs = find_duplicates(hashes, max_distance=max_distance, verify=args.verify, crops=args.crops,
                                workers=args.workers, progress=False if args.no_progress else None)
        groups = _shown(_group(pairs, hashes, args), args.dir, args)
        pairs = _shown(pairs, args.dir, args, columns=("path_a", "path_b"))
        hashes = _shown(hashes, args.dir, args)
        settings = {"max distance": max_distance, "verified": "yes" if args.verify else "no (hash only)",
                    **({"crops": "yes"} if args.crops else {})}
    else:
        files = (args.groups, args.pairs, args.hashes)
        groups, pairs, hashes = (_read_csv(p) if p is not None else None for p in files)
        settings = {"read from": ", ".join(str(p) for p in files if p is not None)}
    if args.thumb_size < 8:
        raise CommandError(f"--thumb-size must be at least 8 pixels, got {args.thumb_size}")
    table = _is_table(args.dir, args)
    try:
        with (table_images(args.dir, keys=groups["path"].astype(str), storage_options=storage_options(args),
                           **_table_options(args.dir, args)) if table
              else contextlib.nullcontext()):  # the shown rows' bytes, in one pass
            written = write_report(groups, pairs=pairs, hashes=hashes, root=None if table else args.dir,
                                   path=args.output, thumb_size=args.thumb_size, max_groups=args.max_groups,
                                   settings=settings)
    except ValueError as exc:  # a CSV without the columns a report needs
        raise CommandError(f"{exc} ({settings.get('read from', args.dir)})") from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"{groups['group'].nunique()} groups, {int((~groups['keep'].astype(bool)).sum())} files could be "
          f"removed: {written}", file=out)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"path": str, "path_a": str, "path_b": str})
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        raise CommandError(f"cannot read {path}: {exc}") from None


def _cmd_serve(args: argparse.Namespace, out) -> None:
    # Imported here so that the other commands start without loading the web stack.
    import uvicorn
    from pydantic import ValidationError

    from .service.app import create_app
    from .service.settings import Settings
    from .service.store import ImageStore, StoreError

    given = {"db": args.db, "max_distance": args.max_distance, "method": args.method, "hash_size": args.hash_size,
             "max_upload_bytes": args.max_upload_bytes, "max_pixels": args.max_pixels}
    try:
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        problems = [error["msg"].removeprefix("Value error, ") for error in exc.errors()]
        fields = [".".join(map(str, error["loc"])) for error in exc.errors()]
        raise CommandError("invalid settings: " + "; ".join(
            f"{field}: {problem}" if field else problem for field, problem in zip(fields, problems))) from None
    try:
        store = ImageStore(settings.db, method=settings.method, hash_size=settings.hash_size)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if settings.token is None and not _is_loopback(args.host):
        print(f"dedupkit serve: warning: listening on {args.host} without a token: anyone who can reach this "
              "port can read, add and delete images. Set DEDUPKIT_TOKEN.", file=sys.stderr)
    print(f"serving {len(store)} images from {settings.db} ({settings.method}, hash_size={settings.hash_size}) "
          f"on http://{args.host}:{args.port} (API docs: /docs; token {'required' if settings.token else 'not set'})",
          file=out, flush=True)
    uvicorn.run(create_app(settings, store=store), host=args.host, port=args.port, log_level=args.log_level)


def _cmd_apply(args: argparse.Namespace, out) -> None:
    from ._apply_cli import cmd_apply

    try:
        cmd_apply(args, out)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _cmd_restore(args: argparse.Namespace, out) -> None:
    from ._apply_cli import cmd_restore

    try:
        cmd_restore(args, out)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


#: Each command's handler, by name.
def _cmd_calibrate(args: argparse.Namespace, out) -> None:
    from .calibration import CALIBRATION_FILE, calibrate, calibration_photos

    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers must be at least 1, got {args.workers}")
    if not args.output_dir.parent.is_dir() or (args.output_dir.exists() and not args.output_dir.is_dir()):
        raise CommandError(f"-o: {args.output_dir} must be a folder in a folder that exists")
    hashes = hash_images(args.dir, workers=args.workers, progress=False, cache=args.cache)
    photos = calibration_photos(hashes)
    if not photos:
        raise CommandError(f"{args.dir}: no readable photos to calibrate on")
    print(f"{len(hashes)} files in {args.dir}, {len(photos)} distinct readable photos", file=out)
    args.output_dir.mkdir(exist_ok=True)
    result = calibrate(photos, args.output_dir, methods=args.methods, max_photos=args.max_photos or None,
                       min_precision=args.min_precision, seed=args.seed, workers=args.workers, image_dir=args.dir)
    truth = result.truth
    print(f"benchmark: {result.bench_dir} ({truth['group'].nunique()} photos, {len(truth)} files, "
          f"{result.results[next(iter(result.results))]['curve'].attrs['positives']} duplicate pairs)", file=out)
    print(result.table.round(3).to_string(), file=out)
    best = result.recommendation
    if best["mode"] == "hash":
        print(f"recommended: {best['method']}{' +trim' if best['trim'] else ''} at threshold {best['threshold']} "
              f"(precision {best['precision']:.3f}, pair recall {best['recall']:.3f} on this calibration)", file=out)
    else:
        print(f"recommended: verify the pairs (dedupkit find); no hash threshold reaches precision "
              f"{args.min_precision} on this calibration", file=out)
    print(f"calibration: {args.output_dir / CALIBRATION_FILE}", file=out)


COMMANDS = {"calibrate": _cmd_calibrate, "hash": _cmd_hash, "find": _cmd_find, "report": _cmd_report,
            "serve": _cmd_serve, "apply": _cmd_apply, "restore": _cmd_restore}
