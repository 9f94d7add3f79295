"""The ``dedupkit`` command line: hash a folder, find its duplicates, check one set against another, serve."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .cache import resolve_cache_path
from .dihedral import search_dihedral
from .duplicates import CANDIDATE_DISTANCE, HASH_ONLY_DISTANCE, find_duplicates
from .export import write_groups, write_pairs
from .groups import find_groups
from .hashing import METHODS, check_method
from .index import HashIndex
from .scan import hash_images
from .tables import check_output_path, relative_paths, write_table

__all__ = ["main"]


class CommandError(Exception):
    """A mistake in how the command was called: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the mistake and where to read more, not the whole usage first."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _existing_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such folder")
    return path


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {number}")
    return number


def _add_hash_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="dhash", choices=METHODS, help="hash method (default: dhash)")
    parser.add_argument("--hash-size", type=_positive_int, default=8, help="8 for 64-bit hashes (default), 16 for 256-bit")
    parser.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--exact", action="store_true", help="decode JPEGs at full size (bit-identical to imagehash)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--cache", nargs="?", const=True, default=None, metavar="PATH",
                        help="keep hashes in a Parquet cache and hash only new or changed files next time "
                             "(default PATH: DIR/.dedupkit-cache.parquet)")
    parser.add_argument("--trim", action=argparse.BooleanOptionalAction, default=None,
                        help="cut plain borders, padding, letterbox bars, canvas and caption bars before hashing "
                             "(default: --trim, or --no-trim with --exact)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dedupkit",
        description="Find duplicate and near-duplicate images with perceptual hashes.",
    )
    parser.add_argument("--version", action="version", version=f"dedupkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    hash_cmd = commands.add_parser(
        "hash", help="hash every image in a folder into a table (CSV or Parquet)",
        description="Hash every image under DIR (recursively) into a table: CSV or Parquet, by the name of the "
                    "output file. Each row also says how it was hashed (method, hash_size, trim, exact).",
    )
    hash_cmd.add_argument("dir", type=_existing_dir, metavar="DIR")
    hash_cmd.add_argument("-o", "--output", required=True, type=Path,
                          help="table to write: a .csv or .parquet file in an existing folder")
    _add_hash_options(hash_cmd)

    find_cmd = commands.add_parser(
        "find", help="find near-duplicate pairs (within DIR, or between DIR and --against REF_DIR)",
        description="Find near-duplicate pairs within DIR, or (with --against) between DIR and REF_DIR.",
    )
    find_cmd.add_argument("dir", type=_existing_dir, metavar="DIR")
    find_cmd.add_argument("-o", "--output", required=True, type=Path,
                          help="pairs to write: a .csv or .parquet file in an existing folder")
    find_cmd.add_argument("--max-distance", type=_positive_int, default=None,
                          help="largest Hamming distance of a candidate pair, inclusive (default: "
                               f"{CANDIDATE_DISTANCE} with verification, {HASH_ONLY_DISTANCE} with --no-verify; "
                               "for 64-bit hashes, scaled for longer ones)")
    find_cmd.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                          help="check every candidate pair by local features, a geometric model and the pixels "
                               "(default: --verify; --no-verify gives the hash-only answer)")
    find_cmd.add_argument("--crops", action="store_true",
                          help="also find crops keeping 50-95%% of each side, caption bars and screenshots, from an "
                               "index of local features (a feature extraction per image; needs --verify)")
    find_cmd.add_argument("--groups", type=Path, default=None,
                          help="also write duplicate groups to this .csv or .parquet file (not with --against)")
    find_cmd.add_argument("--hashes", type=Path, default=None,
                          help="also write the hash table to this .csv or .parquet file")
    _add_keep_options(find_cmd)
    find_cmd.add_argument("--against", type=_existing_dir, default=None, metavar="REF_DIR",
                          help="report only pairs between DIR and this reference folder")
    find_cmd.add_argument("--dihedral", action="store_true",
                          help="also find mirrored and 90/180/270-degree turned copies (about 8x the search); "
                               "adds an 'orientation' column")
    _add_hash_options(find_cmd)

    _add_report_parser(commands)

    serve_cmd = commands.add_parser(
        "serve", help="run the duplicate-detection web service",
        description="Run the web service (FastAPI on uvicorn; API docs at /docs). Settings not given here come "
                    "from DEDUPKIT_* environment variables (DEDUPKIT_DB, DEDUPKIT_MAX_DISTANCE, ...); the token "
                    "only from DEDUPKIT_TOKEN, so that it does not show in the process list.",
    )
    serve_cmd.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default: 127.0.0.1, reachable from this machine only)")
    serve_cmd.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    serve_cmd.add_argument("--db", type=Path, default=None, help="SQLite database (default: dedupkit.db)")
    serve_cmd.add_argument("--max-distance", type=_positive_int, default=None,
                           help="default threshold for a near-duplicate, inclusive (default: 10)")
    serve_cmd.add_argument("--method", default=None, choices=METHODS, help="hash method (default: dhash)")
    serve_cmd.add_argument("--hash-size", type=_positive_int, default=None, help="8 for 64-bit hashes (default)")
    serve_cmd.add_argument("--max-upload-bytes", type=_positive_int, default=None,
                           help="largest request body, all files together (default: 33554432, 32 MiB)")
    serve_cmd.add_argument("--max-pixels", type=_positive_int, default=None,
                           help="largest image decoded, width x height (default: 50000000)")
    serve_cmd.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    _add_apply_commands(commands)
    return parser


def _port(value: str) -> int:
    port = _positive_int(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {port}")
    return port


def _hash(directory: Path, args: argparse.Namespace, *, dihedral: bool = False) -> pd.DataFrame:
    try:
        hashes = hash_images(directory, method=args.method, hash_size=args.hash_size, workers=args.workers,
                             exact=args.exact, progress=False if args.no_progress else None,
                             trim=args.trim, dihedral=dihedral, cache=args.cache)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return hashes


def _write(write, table: pd.DataFrame, path: Path, **options) -> None:
    try:
        write(table, path, **options)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write {path}: {exc}") from None


def _report_scan(hashes: pd.DataFrame, directory: Path, out) -> None:
    """What the scan found: files, unreadable ones (each with its reason), and what the cache gave."""
    n_errors = int(hashes["error"].notna().sum())
    skipped = len(hashes.attrs.get("skipped", []))
    note = f" ({skipped} other file{'s' * (skipped != 1)} left out by extension)" if skipped else ""
    print(f"scanned {len(hashes)} files in {directory}{note}: {n_errors} could not be read", file=out)
    if hashes.attrs.get("cached"):
        print(f"  {hashes.attrs['cached']} files taken from the cache, {hashes.attrs['hashed']} hashed", file=out)
    failed = relative_paths(hashes[hashes["error"].notna()], directory)
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
    if isinstance(args.cache, Path | str):
        outputs = {**outputs, "--cache": resolve_cache_path(args.cache, args.dir)}
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
    _write(write_table, relative_paths(hashes, args.dir), args.output)
    _report_scan(hashes, args.dir, out)
    print(f"hashes: {args.output}", file=out)


def _add_keep_options(command: argparse.ArgumentParser) -> None:
    """The options of the keep rules (dedupkit.keep), for the commands that make groups."""
    command.add_argument("--reference", type=_existing_dir, action="append", default=None, metavar="REF_DIR",
                         help="a folder whose files are always kept and never offered for removal (e.g. a "
                              "training set); repeat for more")
    command.add_argument("--prefer", type=_existing_dir, action="append", default=None, metavar="DIR",
                         help="prefer to keep files under this folder (after the content rules); repeat, first first")


def _group(pairs, hashes, args: argparse.Namespace):
    """The groups, with the keep options given on the command line."""
    return find_groups(pairs, hashes, reference=getattr(args, "reference", None), prefer=getattr(args, "prefer", None))


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
        _write(write_table, relative_paths(hashes, args.dir), args.hashes)
    _report_scan(hashes, args.dir, out)
    checked = "verified pairs" if args.verify else "pairs"
    if args.against is not None:
        reference = _hash(args.against, args)
        index = HashIndex(method=args.method, hash_size=args.hash_size, trim=args.trim, exact=args.exact)
        index.add(reference)
        if args.dihedral:
            matches = search_dihedral(index, hashes, max_distance=max_distance)
        else:
            matches = index.search(hashes, max_distance=max_distance)
        if args.verify:
            from .verify import verify_pairs  # noqa: PLC0415 - OpenCV only when verifying

            asked = matches.rename(columns={"query": "path_a", "match": "path_b"})
            asked = verify_pairs(asked, workers=args.workers, progress=False if args.no_progress else None)
            matches = asked[asked["verified"]].rename(columns={"path_a": "query", "path_b": "match"})
        matches = relative_paths(matches, args.dir, columns=["query"])
        matches = relative_paths(matches, args.against, columns=["match"]).rename(columns={"query": "path"})
        _write(write_table, matches, args.output)
        print(f"indexed {len(index)} reference images in {args.against}", file=out)
        print(f"{matches['path'].nunique()} files in {args.dir} match a reference image "
              f"({len(matches)} {checked} within distance {max_distance}): {args.output}", file=out)
        return
    pairs = find_duplicates(hashes, max_distance=max_distance, verify=args.verify, crops=args.crops,
                            dihedral=args.dihedral, workers=args.workers,
                            progress=False if args.no_progress else None)
    groups = _group(pairs, hashes, args) if args.groups else None
    _write(write_pairs, pairs, args.output, root=args.dir)
    print(f"{len(pairs)} {checked} within distance {max_distance}: {args.output}", file=out)
    if groups is not None:
        groups = relative_paths(groups, args.dir)
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


def _add_report_parser(commands) -> None:
    report_cmd = commands.add_parser(
        "report", help="write one HTML page of the duplicates in DIR, to look at or to share",
        description="Write one self-contained HTML page (thumbnails inside it, no internet needed) of the "
                    "duplicates in DIR: found now (like `find`), or read from the CSV files `find` wrote "
                    "(--groups, with --pairs and --hashes; their paths are relative to DIR).",
    )
    report_cmd.add_argument("dir", type=_existing_dir, metavar="DIR")
    report_cmd.add_argument("-o", "--output", type=Path, default=Path("report.html"),
                            help="HTML file to write (default: report.html)")
    report_cmd.add_argument("--groups", type=Path, default=None, help="read the groups from this CSV (from `find`)")
    _add_keep_options(report_cmd)
    report_cmd.add_argument("--pairs", type=Path, default=None, help="with --groups: the pairs CSV (weakest links)")
    report_cmd.add_argument("--hashes", type=Path, default=None,
                            help="with --groups: the hashes CSV (files scanned, unreadable files)")
    report_cmd.add_argument("--max-distance", type=_positive_int, default=None,
                            help="without --groups: as for `find` (default: 16 with verification)")
    report_cmd.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                            help="without --groups: as for `find` (default: --verify)")
    report_cmd.add_argument("--crops", action="store_true", help="without --groups: as for `find`")
    report_cmd.add_argument("--max-groups", type=_positive_int, default=100,
                            help="most groups shown, the largest (default: 100)")
    report_cmd.add_argument("--thumb-size", type=_positive_int, default=200,
                            help="longest side of a thumbnail in pixels (default: 200)")
    _add_hash_options(report_cmd)


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
        groups = relative_paths(_group(pairs, hashes, args), args.dir)
        pairs = relative_paths(pairs, args.dir, columns=("path_a", "path_b"))
        hashes = relative_paths(hashes, args.dir)
        settings = {"max distance": max_distance, "verified": "yes" if args.verify else "no (hash only)",
                    **({"crops": "yes"} if args.crops else {})}
    else:
        files = (args.groups, args.pairs, args.hashes)
        groups, pairs, hashes = (_read_csv(p) if p is not None else None for p in files)
        settings = {"read from": ", ".join(str(p) for p in files if p is not None)}
    if args.thumb_size < 8:
        raise CommandError(f"--thumb-size must be at least 8 pixels, got {args.thumb_size}")
    try:
        written = write_report(groups, pairs=pairs, hashes=hashes, root=args.dir, path=args.output,
                               thumb_size=args.thumb_size, max_groups=args.max_groups, settings=settings)
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


def _add_apply_commands(commands) -> None:
    from ._apply_cli import add_apply_commands

    add_apply_commands(commands)


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 2 usage or input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {"hash": _cmd_hash, "find": _cmd_find, "report": _cmd_report, "serve": _cmd_serve,
                    "apply": _cmd_apply, "restore": _cmd_restore}
        commands[args.command](args, sys.stdout)
    except CommandError as exc:
        print(f"dedupkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dedupkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
