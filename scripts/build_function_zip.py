"""Build the function's deployment package, byte for byte reproducibly.

The zip holds the function's code from ``resource/`` (not the operator CLI) and crhelper's
modules taken from its hash-pinned wheel (with its LICENSE and NOTICE, as Apache-2.0 asks).
boto3 is left to the Lambda runtime. Entries are sorted, dated 1980-01-01, and given fixed
permissions, so two builds of the same sources give the same bytes.

Usage: python scripts/build_function_zip.py WHEEL_DIR OUTPUT_ZIP
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "resource"
# The operator CLI (python -m authorizer_pools list|reconcile) runs on an operator's machine,
# never in Lambda: leave it out of the function's package.
OPERATOR_ONLY = (
    "authorizer_pools/__main__.py",
    "authorizer_pools/cli.py",
    "authorizer_pools/survey.py",
)
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
VENDORED = "crhelper"
# From the wheel: the runtime modules and the licence files; not the type stubs.
WHEEL_MEMBERS = (".py", "/LICENSE", "/NOTICE")


def code_files() -> dict[str, bytes]:
    return {
        path.relative_to(CODE).as_posix(): path.read_bytes()
        for path in sorted(CODE.rglob("*.py"))
        if "__pycache__" not in path.parts
        and path.relative_to(CODE).as_posix() not in OPERATOR_ONLY
    }


def vendored_files(wheel_dir: Path) -> dict[str, bytes]:
    wheels = sorted(wheel_dir.glob(f"{VENDORED}-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one {VENDORED} wheel in {wheel_dir}, found {len(wheels)}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return {
            name: wheel.read(name)
            for name in wheel.namelist()
            if name.startswith(VENDORED) and name.endswith(WHEEL_MEMBERS)
        }


def write_zip(files: dict[str, bytes], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: whoever reads the zip meanwhile (make cdk, make release, a
    # test) sees the whole previous build or the whole new one, never half of one.
    partial = output.with_name(f".{output.name}.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix, whatever machine builds it
            archive.writestr(info, files[name], compresslevel=9)
    partial.replace(output)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wheel_dir, output = Path(argv[1]), Path(argv[2])
    files = code_files()
    clash = [name for name in vendored_files(wheel_dir) if name in files]
    if clash:
        raise SystemExit(f"vendored files would overwrite the function's own: {clash}")
    files.update(vendored_files(wheel_dir))
    write_zip(files, output)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    print(f"built {output}: {output.stat().st_size:,} bytes, {len(files)} files, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
