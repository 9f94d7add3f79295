"""The ``dedupkit`` command line: hash a folder, find its duplicates, check one set against another, serve.

This module holds the parser and ``main``, and imports nothing heavy, so that
``dedupkit --help`` and a mistyped option answer at once; the commands
themselves (:mod:`dedupkit._commands`) load the library after the arguments
have been read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._keys import is_shard_pattern, is_url
from .defaults import CANDIDATE_DISTANCE, HASH_ONLY_DISTANCE, METHODS

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the mistake and where to read more, not the whole usage first."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _source(value: str) -> Path | str:
    """A folder, a Parquet table of image bytes, or images kept elsewhere: a URL or tar shards (``a/{0..9}.tar``)."""
    if is_url(value) or is_shard_pattern(value):
        return value
    path = Path(value)
    if not path.is_dir() and not (path.is_file() and path.suffix.lower() == ".parquet"):
        raise argparse.ArgumentTypeError(f"{value}: no such folder or .parquet file")
    return path


def _existing_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such folder")
    return path


def _existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {number}")
    return number


def _storage_option(value: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--storage-option``: the value as JSON where it parses (``true``, ``{...}``), else text."""
    key, equals, text = value.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. anon=true), got {value!r}")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return key.strip(), parsed


_SOURCE_HELP = ("a folder of images, a URL (s3://bucket/train, gs://, az://, https://) or tar shards "
                "(a/{0..9}.tar); or a table of image bytes: a .parquet file or a folder of Parquet files "
                "(see --column, --key)")


def _add_hash_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="dhash", choices=METHODS, help="hash method (default: dhash)")
    parser.add_argument("--hash-size", type=_positive_int, default=8,
                        help="8 for 64-bit hashes (default), 16 for 256-bit")
    parser.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--exact", action="store_true", help="decode JPEGs at full size (bit-identical to imagehash)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--cache", nargs="?", const=True, default=None, metavar="PATH",
                        help="keep hashes in a Parquet cache and hash only new or changed files next time "
                             "(default PATH: DIR/.dedupkit-cache.parquet)")
    parser.add_argument("--trim", action=argparse.BooleanOptionalAction, default=None,
                        help="cut plain borders, padding, letterbox bars, canvas and caption bars before hashing "
                             "(default: --trim, or --no-trim with --exact)")
    parser.add_argument("--column", default=None,
                        help="a table's column of image bytes or {bytes, path} structs (default: image); "
                             "DIR is then a .parquet file or a folder of Parquet files")
    parser.add_argument("--key", default=None,
                        help="a table's column that names each row, e.g. id (default: the row number)")
    parser.add_argument("--storage-option", dest="storage_options", type=_storage_option, action="append",
                        default=None, metavar="KEY=VALUE",
                        help="an option of the filesystem behind a URL (s3fs, gcsfs, adlfs), repeatable; the value "
                             "is read as JSON where it parses: anon=true, key=..., secret=..., "
                             "'client_kwargs={\"endpoint_url\": \"http://127.0.0.1:9000\"}' (default: the "
                             "usual environment variables, e.g. AWS_ACCESS_KEY_ID)")


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
    hash_cmd.add_argument("dir", type=_source, metavar="DIR", help=_SOURCE_HELP)
    hash_cmd.add_argument("-o", "--output", required=True, type=Path,
                          help="table to write: a .csv or .parquet file in an existing folder")
    _add_hash_options(hash_cmd)

    find_cmd = commands.add_parser(
        "find", help="find near-duplicate pairs (within DIR, or between DIR and --against REF_DIR)",
        description="Find near-duplicate pairs within DIR, or (with --against) between DIR and REF_DIR.",
    )
    find_cmd.add_argument("dir", type=_source, metavar="DIR", help=_SOURCE_HELP)
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
    find_cmd.add_argument("--against", type=_source, default=None, metavar="REF_DIR",
                          help="report only pairs between DIR and this reference folder")
    find_cmd.add_argument("--dihedral", action="store_true",
                          help="also find mirrored and 90/180/270-degree turned copies (about 8x the search); "
                               "adds an 'orientation' column")
    _add_hash_options(find_cmd)

    _add_report_parser(commands)
    _add_calibrate_parser(commands)

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


def _add_keep_options(command: argparse.ArgumentParser) -> None:
    """The options of the keep rules (dedupkit.keep), for the commands that make groups."""
    command.add_argument("--reference", type=_existing_dir, action="append", default=None, metavar="REF_DIR",
                         help="a folder whose files are always kept and never offered for removal (e.g. a "
                              "training set); repeat for more")
    command.add_argument("--prefer", type=_existing_dir, action="append", default=None, metavar="DIR",
                         help="prefer to keep files under this folder (after the content rules); repeat, first first")
    command.add_argument("--decisions", type=_existing_file, default=None, metavar="DECISIONS.csv",
                         help="review decisions (dedupkit.review's decisions.csv): pairs marked 'not a duplicate' "
                              "are never proposed again, and each file's keep/remove decision stands")


def _precision(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"expected a precision above 0 and at most 1, got {value}")
    return number


def _add_calibrate_parser(commands) -> None:
    calibrate_cmd = commands.add_parser(
        "calibrate", help="measure each hash method on edited copies of your own photos",
        description="Pick distinct photos from DIR, write a benchmark of edited copies of them to "
                    "OUTPUT_DIR/calibration/ (DIR is only read), hash it with each method with and without "
                    "trimming, and recommend the one with the most recall at --min-precision, or verification "
                    "when none reaches it. The result goes to OUTPUT_DIR/calibration.json (notebook 4 does the "
                    "same, with figures).",
    )
    calibrate_cmd.add_argument("dir", type=_existing_dir, metavar="DIR")
    calibrate_cmd.add_argument("-o", "--output-dir", type=Path, default=Path("out"),
                               help="folder for the benchmark and calibration.json (default: out; created, in a "
                                    "folder that exists)")
    calibrate_cmd.add_argument("--methods", nargs="+", choices=METHODS, default=["dhash", "phash"],
                               help="hash methods to compare, each with and without trimming (default: dhash phash)")
    calibrate_cmd.add_argument("--max-photos", type=_positive_int, default=8,
                               help="photos picked at random; each gives 39 edited copies (default: 8; 0: all)")
    calibrate_cmd.add_argument("--min-precision", type=_precision, default=0.995,
                               help="pairwise precision a hash threshold must reach (default: 0.995)")
    calibrate_cmd.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    calibrate_cmd.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    calibrate_cmd.add_argument("--cache", nargs="?", const=True, default=None, metavar="PATH",
                               help="keep DIR's hashes in a Parquet cache (default PATH: DIR/.dedupkit-cache.parquet)")


def _add_report_parser(commands) -> None:
    report_cmd = commands.add_parser(
        "report", help="write one HTML page of the duplicates in DIR, to look at or to share",
        description="Write one self-contained HTML page (thumbnails inside it, no internet needed) of the "
                    "duplicates in DIR: found now (like `find`), or read from the CSV files `find` wrote "
                    "(--groups, with --pairs and --hashes; their paths are relative to DIR).",
    )
    report_cmd.add_argument("dir", type=_source, metavar="DIR", help=_SOURCE_HELP)
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


def _add_apply_commands(commands) -> None:
    """Add ``apply`` and ``restore`` to the CLI's subparsers."""
    apply_cmd = commands.add_parser(
        "apply", help="move, link or delete the files a group table does not keep (dry run unless --run)",
        description="Act on the files that INPUT does not keep: a groups CSV (dedupkit find --groups), the "
                    "decisions.csv of a review, a plan "
                    "saved with --save-plan, or the manifest of an interrupted run (to resume it). Prints the "
                    "plan and changes nothing unless --run is given. Each file is checked first to be unchanged "
                    "since the scan (size, mtime, SHA-256); kept files, reference files and the last copy of a "
                    "group are never touched. Every run writes a manifest first: dedupkit restore MANIFEST "
                    "undoes it.",
    )
    apply_cmd.add_argument("input", type=Path, metavar="INPUT")
    apply_cmd.add_argument("--root", type=Path, default=None,
                           help="the folder dedupkit find scanned: the groups CSV's paths are relative to it")
    what = apply_cmd.add_mutually_exclusive_group()
    what.add_argument("--move-to", type=Path, default=None, metavar="DIR",
                      help="move the files here, keeping their layout under --root (the default action; "
                           "default DIR: ROOT-duplicates beside ROOT)")
    what.add_argument("--hardlink", action="store_true", help="replace each file by a hard link to the kept file")
    what.add_argument("--symlink", action="store_true", help="replace each file by a symbolic link to the kept file")
    what.add_argument("--delete", action="store_true", help="delete the files (with --run, needs --yes)")
    apply_cmd.add_argument("--trash", type=Path, default=None, metavar="DIR",
                           help="where --hardlink/--symlink keep the originals (restore needs them) and --delete "
                                "holds files until the run ends (default: ROOT-trash beside ROOT)")
    apply_cmd.add_argument("--reference", type=Path, action="append", default=None, metavar="DIR",
                           help="never touch files under this folder (may be given more than once)")
    apply_cmd.add_argument("--hashes", type=Path, default=None, metavar="HASHES.csv",
                           help="the hash table of the same scan (dedupkit find --hashes): a file whose size "
                                "differs from the scan's is skipped")
    apply_cmd.add_argument("--decisions", type=_existing_file, default=None, metavar="DECISIONS.csv",
                           help="with a groups CSV: the review's decisions override its keep column (INPUT may "
                                "also be the decisions file itself: only decided files are acted on)")
    apply_cmd.add_argument("--manifest", type=Path, default=None,
                           help="the manifest to write (default: INPUT's name + .apply-TIME.jsonl beside it)")
    apply_cmd.add_argument("-o", "--save-plan", type=Path, default=None, metavar="PATH",
                           help="also write the plan as CSV; apply it later with dedupkit apply PATH --run")
    apply_cmd.add_argument("--run", action="store_true", help="act (default: dry run, print the plan)")
    apply_cmd.add_argument("--yes", action="store_true", help="confirm --delete")

    restore_cmd = commands.add_parser(
        "restore", help="undo an apply run: put every file back",
        description="Put back every file that the run recorded in MANIFEST moved or linked (or had not yet "
                    "deleted), finished or interrupted.",
    )
    restore_cmd.add_argument("manifest", type=Path, metavar="MANIFEST")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 2 usage or input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import _commands  # noqa: PLC0415 - the library is loaded only once the arguments parse

    try:
        _commands.COMMANDS[args.command](args, sys.stdout)
    except _commands.CommandError as exc:
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
